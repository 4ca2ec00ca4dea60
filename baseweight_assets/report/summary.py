"""One task's summary: every variant cell with quality, latency, cost, TCO and break-even, the headline
paired comparisons (``report.comparisons``) and each open model's data-efficiency curve (``report.curve_inputs``).

Cell status: "skipped" (no scores, with the reason), "incomplete" (scored, but its completeness fails: more than
``run_defaults.incomplete_threshold`` of its questions missing, in the cell or in any training seed, or scoring
marked it so) or "ok". An incomplete cell shows what was scored and its missing share, and is left out of every
comparison: Pareto fronts, TCO curves, break-evens, paired tests, curves and the cross-task summary. Failures are
not answers.

Money depends on the GPU price scenario, so every cost figure is given for low, mid and high. Self-hosted cost is
priced at the engine's saturated throughput (``run.saturated_qps``), never at the latency probe's; API cost
charges cached input tokens at the cached price.
"""

from __future__ import annotations

import math

from baseweight_assets.config.loader import BenchConfig
from baseweight_assets.conditions import is_lora
from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.cost.break_even import break_even_volume
from baseweight_assets.cost.per_query import (
    api_cost_per_query,
    correct_share,
    cost_per_1k_correct,
    queries_per_second,
    self_hosted_cost_per_query,
)
from baseweight_assets.cost.pricing import SCENARIOS, api_price, hourly_rate, trainings_per_year
from baseweight_assets.cost.tco import api_tco, self_hosted_tco, training_cost_per_year
from baseweight_assets.report.comparisons import task_comparisons, usable
from baseweight_assets.report.curve_inputs import task_curves
from baseweight_assets.variants import split_variant

METRIC_LABELS = {"weighted_f1": "Weighted F1", "macro_f1": "Macro F1", "accuracy": "Accuracy",
                 "token_f1": "Token F1", "pass_at_1": "pass@1",
                 "multi_span_f1": "Multi-span F1"}
ACCURACY_BASIS = {
    "classification": "accuracy (share of messages given the gold label)",
    "multiple_choice": "accuracy (share of questions answered with the gold option)",
    "extraction": "share of questions scored correct (right clause extracted, or correct abstention)",
    "code": "pass@1 (share of problems whose program passes every test)",
}
# 100 to 10M queries/day, 8 points per decade: wide enough to show every break-even of interest.
VOLUME_GRID = [round(10 ** (2 + i / 8)) for i in range(41)]
_REQUIRED_SCORE_KEYS = ("metric_id", "metric", "ci_lo", "ci_hi", "per_example", "run")


def _finite(x):
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _loss_points(history) -> list[dict]:
    points = []
    for i, item in enumerate(history or []):
        if isinstance(item, dict):
            loss = item.get("loss", item.get("eval_loss", item.get("val_loss")))
            step = item.get("step", item.get("epoch", i))
        else:
            loss, step = item, i
        if _finite(loss) is not None and _finite(step) is not None:
            points.append({"step": step, "loss": float(loss)})
    return points


def _samples(scores: dict, limit: int = 3) -> list[dict]:
    """A few raw model outputs to show (errors first: they explain the score). Shown escaped on the site."""
    rows = scores.get("samples") or [r for r in scores.get("per_example", []) if r.get("output") is not None
                                     or r.get("parsed") is not None]
    rows = sorted(rows, key=lambda r: r.get("category") == "correct")
    return [{"question_id": str(r.get("question_id")), "category": r.get("category"),
             "output": str(r.get("output") if r.get("output") is not None else r.get("parsed"))}
            for r in rows[:limit]]


def _seed_records(adapter: dict) -> list[dict]:
    """One entry per training seed (``adapters``), else the seed-0 record the value carries."""
    records = adapter.get("adapters") or [{"seed": 0, "adapter_key": adapter.get("adapter_key"),
                                           "adapter_sha256": adapter.get("adapter_sha256"), "reused": None,
                                           "metadata": adapter.get("metadata") or {}}]
    return [{"seed": r.get("seed"), "adapter_key": r.get("adapter_key"), "adapter_sha256": r.get("adapter_sha256"),
             "reused": r.get("reused"), "gpu_hours": _finite((r.get("metadata") or {}).get("gpu_hours"))}
            for r in records]


def _training(adapter: dict | None, bench: BenchConfig) -> dict | None:
    """Seed 0's facts and loss history; ``gpu_hours`` is ONE training's device-hours (the mean over the seeds
    that recorded it): a deployment retrains once per cadence, not once per evaluation seed."""
    if not adapter or adapter.get("status") != "ok":
        return None
    meta = adapter.get("metadata") or {}
    seeds = _seed_records(adapter)
    hours = [s["gpu_hours"] for s in seeds if s["gpu_hours"] is not None]
    hardware, device_hours = meta.get("hardware"), (sum(hours) / len(hours) if hours else None)
    by_scenario, error = {}, None
    try:
        if device_hours is None:
            raise ValueError("adapter metadata has no gpu_hours")
        per_year = trainings_per_year(bench.pricing)
        for s in SCENARIOS:
            rate = hourly_rate(bench.pricing, hardware, s)
            by_scenario[s] = {"once": device_hours * rate,
                              "per_year": training_cost_per_year(device_hours, rate, per_year)}
    except (LookupError, ValueError) as exc:
        by_scenario, error = {}, str(exc)
    return {"adapter_sha256": adapter.get("adapter_sha256"), "hardware": hardware, "gpu_name": meta.get("gpu_name"),
            "gpu_hours": device_hours, "wall_time_s": _finite(meta.get("wall_time_s")),
            "recorded_cost_usd": _finite(meta.get("training_cost_usd")), "cost_by_scenario": by_scenario,
            "cost_error": error, "n_train": adapter.get("n_train", meta.get("n_train")),
            "epochs_run": meta.get("epochs_run"), "stopped_early": meta.get("stopped_early"),
            "n_seeds": len(seeds), "seeds": seeds, "gpu_hours_spent": _finite(adapter.get("gpu_hours_spent")),
            "loss_history": _loss_points(meta.get("loss_history")),
            "val_loss_history": _loss_points(meta.get("val_loss_history"))}


def _cost(cell: dict, scores: dict, model, bench: BenchConfig, volume: int) -> dict:
    """Cost per query, per 1k correct and TCO at ``volume`` for every scenario; errors are recorded, not raised."""
    pricing, run = bench.pricing, scores["run"] or {}
    n_queries = len(scores["per_example"])
    out = {"basis": None, "hardware": None, "qps": None, "qps_source": None, "cached_input_tokens": None,
           "by_scenario": {}, "error": None, "note": None}
    notes = []
    try:
        share = cell["correct_share"]
        if share is None or not n_queries:
            raise ValueError("no scored question: nothing to price")
        if model.kind == "api":
            batch = run.get("served_by") == "openai-batch" or bool(run.get("batch"))
            cached = int(run.get("total_cached_input_tokens") or 0)
            out.update(basis="api-batch" if batch else "api-list", cached_input_tokens=cached)
            cpq = api_cost_per_query(api_price(pricing, model.api_model), int(run["total_input_tokens"]),
                                     int(run["total_output_tokens"]), n_queries, cached_input_tokens=cached,
                                     batch=batch, batch_discount=pricing.batch_discount)
            if run.get("stand_in"):
                notes.append("stand-in answered: API prices applied to the stand-in's measured tokens")
            for s in SCENARIOS:
                out["by_scenario"][s] = {"per_query": cpq, "per_1k_correct": cost_per_1k_correct(cpq, share),
                                         "tco_12mo": api_tco(volume, cpq)}
            return out
        hardware = run.get("hardware")
        if not hardware:
            hardware = pricing.default_hardware
            notes.append(f"run did not record its hardware; priced as default_hardware {hardware!r}")
        saturated, source = run.get("saturated_qps"), "saturated_qps"
        if saturated is None:
            # older runs and remote servers record only the whole call's rate (still batched, never the probe's)
            saturated, source = run.get("throughput_qps"), "throughput_qps"
            notes.append("run recorded no saturated_qps: priced at the whole call's throughput (throughput_qps)")
        if source == "saturated_qps" and str(run.get("saturation") or "").startswith("the cell's partial batches"):
            notes.append(f"throughput from {run['saturation']}")
        qps = queries_per_second(saturated, run.get("n_requests"), n_queries)
        out.update(basis="self-hosted", hardware=hardware, qps=qps, qps_source=source)
        training = cell["training"]
        for s in SCENARIOS:
            rate = hourly_rate(pricing, hardware, s)
            cpq = self_hosted_cost_per_query(qps, rate)
            train_year = training["cost_by_scenario"][s]["per_year"] if training and training["cost_by_scenario"] \
                else 0.0
            out["by_scenario"][s] = {"per_query": cpq, "per_1k_correct": cost_per_1k_correct(cpq, share),
                                     "tco_12mo": self_hosted_tco(volume, qps, rate, pricing.utilisation_target,
                                                                 train_year),
                                     "hourly_rate": rate, "training_per_year": train_year}
        if training and training["cost_error"]:
            notes.append(f"training cost left out of TCO: {training['cost_error']}")
        elif training is None and is_lora(cell["condition"]):
            notes.append("no usable adapter record: training cost left out of TCO")
    except (KeyError, TypeError, ValueError, LookupError) as exc:
        out["by_scenario"] = {}
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        out["note"] = "; ".join(notes) or None
    return out


def _seed_completeness(scores: dict) -> list[tuple[str, dict | None]]:
    """(label, completeness) per training seed, or the cell's own with one seed (``scoring.seeded.score_cell``
    keeps seed 0's counts at the top level and sets ``complete`` False when ANY seed is incomplete)."""
    per_seed = scores.get("per_seed") or []
    if len(per_seed) > 1:
        return [(f"training seed {s.get('seed', i)}: ", s.get("completeness")) for i, s in enumerate(per_seed)]
    return [("", scores.get("completeness"))]


def _incomplete_reason(scores: dict) -> str | None:
    """Why a scored cell is incomplete (module docstring), or None when it is complete."""
    reasons = []
    if scores.get("status") == "incomplete":
        reasons.append(scores.get("reason") or "scoring marked the cell incomplete")
    for prefix, comp in _seed_completeness(scores):
        if not comp or comp.get("complete") is not False:
            continue
        share = comp.get("missing_share")
        text = (f"{prefix}{comp.get('n_missing')} of {comp.get('n_sampled')} sampled questions missing"
                + (f" ({share:.1%}, threshold {comp.get('threshold', 0):.1%})" if share is not None else ""))
        first = next(iter(comp.get("missing_examples") or []), None)
        reasons.append(text + (f", e.g. {first.get('error')}" if first and first.get("error") else ""))
    if not reasons and (scores.get("completeness") or {}).get("complete") is False:
        reasons.append("scoring marked the cell incomplete")
    return "; ".join(reasons) or None


def _completeness_block(scores: dict) -> dict | None:
    """The cell's completeness; with several training seeds, the counts of the seed missing the most."""
    seeds = [c for _, c in _seed_completeness(scores) if c]
    if not seeds:
        return None
    worst = max(seeds, key=lambda c: c.get("missing_share") or 0.0)
    block = {k: worst.get(k) for k in ("n_sampled", "n_scored", "n_missing", "missing_share", "threshold")}
    return block | {"complete": all(c.get("complete") is not False for c in seeds)
                    and (scores.get("completeness") or {}).get("complete") is not False}


def _metric_block(scores: dict) -> dict:
    per_seed = scores.get("per_seed") or []
    variance = scores.get("seed_variance")
    return {"id": scores["metric_id"], "value": _finite(scores["metric"]), "ci_lo": _finite(scores["ci_lo"]),
            "ci_hi": _finite(scores["ci_hi"]), "n": scores.get("n", len(scores["per_example"])),
            "n_clusters": scores.get("n_clusters"),
            "seed_values": [_finite(v) for v in scores.get("seed_values") or []],
            "seed_mean": _finite(scores.get("seed_mean")), "seed_std": _finite(scores.get("seed_std")),
            "seed_note": scores.get("seed_note"), "n_seeds": max(1, len(per_seed)),
            "training_seeds": [{"seed": s.get("seed"), "adapter_key": s.get("adapter_key"),
                                "metric": _finite(s.get("metric")), "ci_lo": _finite(s.get("ci_lo")),
                                "ci_hi": _finite(s.get("ci_hi"))} for s in per_seed],
            "variance": ({k: variance.get(k) for k in ("examples", "seeds", "total", "seed_sd", "n_seeds", "note")}
                         if variance else None)}


def _cell(task: TaskConfig, variant: str, scores: dict, adapter: dict | None, bench: BenchConfig) -> dict:
    model_id, condition = split_variant(variant)
    model = bench.models.get(model_id)
    if model is None:
        raise ValueError(f"task {task.id!r} variant {variant!r}: unknown model {model_id!r}")
    base = {"variant": variant, "model": model_id, "condition": condition, "display_name": model.display_name,
            "kind": model.kind, "family": model.family, "status": scores.get("status", "ok"),
            "reason": scores.get("reason")}
    if base["status"] not in ("ok", "incomplete"):
        return base | {"status": "skipped", "reason": scores.get("reason") or "skipped (no reason given)"}
    missing = [k for k in _REQUIRED_SCORE_KEYS if k not in scores]
    if missing:
        raise ValueError(f"task {task.id!r} variant {variant!r}: scores lack {missing}")
    run = scores["run"] or {}
    incomplete = _incomplete_reason(scores)
    cell = base | {
        "status": "incomplete" if incomplete else "ok", "reason": incomplete or scores.get("reason"),
        "metric": _metric_block(scores),
        "completeness": _completeness_block(scores),
        "correct_share": correct_share(scores["per_example"]) if scores["per_example"] else None,
        "secondary": scores.get("secondary") or {}, "error_counts": scores.get("error_counts") or {},
        "latency": {k: _finite(run.get(k)) for k in ("latency_p50_s", "latency_p95_s", "ttft_p50_s",
                                                      "throughput_qps", "output_tokens_per_s", "saturated_qps",
                                                      "saturated_output_tokens_per_s")}
        | {"latency_n": run.get("latency_n")},
        "tokens": {"input_total": run.get("total_input_tokens"), "output_total": run.get("total_output_tokens"),
                   "cached_input_total": run.get("total_cached_input_tokens"), "n_requests": run.get("n_requests")},
        "run": {k: run.get(k) for k in ("wall_s", "concurrency", "hardware", "served_by", "spend_usd")},
        "stand_in": bool(run.get("stand_in")),
        "sandbox": scores.get("sandbox"),
        "training": _training(adapter, bench) if is_lora(condition) else None,
        "samples": _samples(scores),
    }
    cell["cost"] = _cost(cell, scores, model, bench, bench.pricing.default_daily_volume)
    return cell


def _metric(cell: dict) -> float | None:
    return cell["metric"]["value"] if usable(cell) else None


def _cpq(cell: dict, scenario: str) -> float | None:
    """Cost per query of a usable cell (None for skipped and incomplete cells: they are never compared)."""
    if not usable(cell):
        return None
    return ((cell.get("cost") or {}).get("by_scenario") or {}).get(scenario, {}).get("per_query")


def _pareto(cells: dict[str, dict], scenario: str) -> list[str]:
    """Cells no other cell beats on both accuracy (higher) and cost per query (lower)."""
    pts = [(k, _metric(c), _cpq(c, scenario)) for k, c in cells.items()]
    pts = [p for p in pts if p[1] is not None and p[2] is not None]
    front = [k for k, m, c in pts
             if not any((m2 >= m and c2 <= c) and (m2 > m or c2 < c) for _, m2, c2 in pts)]
    return sorted(front, key=lambda k: cells[k]["cost"]["by_scenario"][scenario]["per_query"])


def _break_evens(cells: dict[str, dict], bench: BenchConfig) -> None:
    pricing = bench.pricing
    apis = {k: c for k, c in cells.items() if c["kind"] == "api" and _cpq(c, "mid") is not None}
    for cell in cells.values():
        if cell["kind"] != "local" or _cpq(cell, "mid") is None:
            continue
        cell["break_even"] = {}
        for api_key, api in apis.items():
            cell["break_even"][api_key] = {}
            for s in SCENARIOS:
                be = break_even_volume(_cpq(api, s), cell["cost"]["qps"], cell["cost"]["by_scenario"][s]["hourly_rate"],
                                       pricing.utilisation_target, cell["cost"]["by_scenario"][s]["training_per_year"])
                volume = be["daily_volume"]
                be["tco_12mo_at_volume"] = api_tco(volume, _cpq(api, s))["total"] if volume is not None else None
                cell["break_even"][api_key][s] = be


def _tco_curves(cells: dict[str, dict], bench: BenchConfig) -> dict:
    curves = {s: {} for s in SCENARIOS}
    for key, cell in cells.items():
        if _cpq(cell, "mid") is None:
            continue
        for s in SCENARIOS:
            sc = cell["cost"]["by_scenario"][s]
            if cell["kind"] == "api":
                curves[s][key] = [api_tco(v, sc["per_query"])["total"] for v in VOLUME_GRID]
            else:
                curves[s][key] = [self_hosted_tco(v, cell["cost"]["qps"], sc["hourly_rate"],
                                                  bench.pricing.utilisation_target, sc["training_per_year"])["total"]
                                  for v in VOLUME_GRID]
    return {"volumes": VOLUME_GRID, "by_scenario": curves}


def _error_categories(cells: dict[str, dict]) -> list[str]:
    """The categories of the cells' error counts in the order scoring lists them (its ``count_categories``)."""
    return list(dict.fromkeys(k for c in cells.values() for k in (c.get("error_counts") or {})))


def _cost_ratio(a: dict, b: dict, scenario: str) -> float | None:
    ka, kb = (a["cost"]["by_scenario"].get(scenario, {}), b["cost"]["by_scenario"].get(scenario, {}))
    if ka.get("per_1k_correct") and kb.get("per_1k_correct"):
        return kb["per_1k_correct"] / ka["per_1k_correct"]
    return None


def summarize_task(task: TaskConfig, scores: dict[str, dict], adapters: dict[str, dict], bench: BenchConfig,
                   *, n_resamples: int, seed: int) -> dict:
    """The task's summary (module docstring). ``scores``: variant -> scores value; ``adapters``: variant ->
    lora_adapter value. Keys: task facts, "cells", "order", "pareto", "tco_curves", "comparisons" (shown rows)
    and "comparison_stats" (``report.comparisons.task_comparisons``), "curves" (model -> curve,
    ``report.curve_inputs.task_curves``),
    "error_categories" (every category the cells count, in scoring's order: failures first, successes last)."""
    cells = {v: _cell(task, v, s, adapters.get(v), bench) for v, s in sorted(scores.items())}
    _break_evens(cells, bench)
    order = sorted(cells, key=lambda k: (_metric(cells[k]) is None, cells[k]["status"] != "incomplete",
                                         -(_metric(cells[k]) or 0.0), k))
    comparisons, comparison_stats = task_comparisons(task, cells, scores, n_resamples=n_resamples, seed=seed)
    for row in comparisons:
        row["cost_per_1k_correct_ratio"] = _cost_ratio(cells[row["a"]], cells[row["b"]],
                                                       bench.pricing.default_scenario)
    metric_label = METRIC_LABELS[task.metric]
    return {
        "task": task.id, "name": task.name, "task_type": task.task_type, "metric_id": task.metric,
        "metric_label": metric_label, "accuracy_basis": ACCURACY_BASIS[task.task_type],
        "default_daily_volume": bench.pricing.default_daily_volume,
        "default_scenario": bench.pricing.default_scenario,
        "error_categories": _error_categories(cells),
        "cells": cells, "order": order,
        "pareto": {s: _pareto(cells, s) for s in SCENARIOS},
        "tco_curves": _tco_curves(cells, bench),
        "comparisons": comparisons, "comparison_stats": comparison_stats,
        "curves": task_curves(task, cells, scores, adapters, bench, volumes=VOLUME_GRID, metric_label=metric_label,
                              n_resamples=n_resamples, seed=seed),
    }
