"""One task's summary: every variant cell with quality, latency, cost, TCO and break-even, plus headline
paired comparisons (best LoRA vs 5-shot / zero-shot of the same model, and vs each API cell).

Money depends on the GPU price scenario, so every cost figure is given for low, mid and high.
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
from baseweight_assets.scoring.stats import compare_cells
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


def _training(adapter: dict | None, bench: BenchConfig) -> dict | None:
    if not adapter or adapter.get("status") != "ok":
        return None
    meta = adapter.get("metadata") or {}
    hardware, device_hours = meta.get("hardware"), _finite(meta.get("gpu_hours"))
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
            "cost_error": error, "n_train": meta.get("n_train"), "epochs_run": meta.get("epochs_run"),
            "stopped_early": meta.get("stopped_early"), "loss_history": _loss_points(meta.get("loss_history")),
            "val_loss_history": _loss_points(meta.get("val_loss_history"))}


def _cost(cell: dict, scores: dict, model, bench: BenchConfig, volume: int) -> dict:
    """Cost per query, per 1k correct and TCO at ``volume`` for every scenario; errors are recorded, not raised."""
    pricing, run = bench.pricing, scores["run"]
    n_queries = len(scores["per_example"])
    out = {"basis": None, "hardware": None, "qps": None, "by_scenario": {}, "error": None, "note": None}
    try:
        share = cell["correct_share"]
        if model.kind == "api":
            batch = run.get("served_by") == "openai-batch" or bool(run.get("batch"))
            out["basis"] = "api-batch" if batch else "api-list"
            cpq = api_cost_per_query(api_price(pricing, model.api_model), int(run["total_input_tokens"]),
                                     int(run["total_output_tokens"]), n_queries, batch=batch,
                                     batch_discount=pricing.batch_discount)
            if run.get("stand_in"):
                out["note"] = "stand-in answered: API prices applied to the stand-in's measured tokens"
            for s in SCENARIOS:
                out["by_scenario"][s] = {"per_query": cpq, "per_1k_correct": cost_per_1k_correct(cpq, share),
                                         "tco_12mo": api_tco(volume, cpq)}
            return out
        hardware = run.get("hardware")
        if not hardware:
            hardware = pricing.default_hardware
            out["note"] = f"run did not record its hardware; priced as default_hardware {hardware!r}"
        qps = queries_per_second(run.get("throughput_qps"), run.get("n_requests"), n_queries)
        out.update(basis="self-hosted", hardware=hardware, qps=qps)
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
            out["note"] = f"training cost left out of TCO: {training['cost_error']}"
        elif training is None and is_lora(cell["condition"]):
            out["note"] = "no usable adapter record: training cost left out of TCO"
    except (KeyError, TypeError, ValueError, LookupError) as exc:
        out["by_scenario"] = {}
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _cell(task: TaskConfig, variant: str, scores: dict, adapter: dict | None, bench: BenchConfig) -> dict:
    model_id, condition = split_variant(variant)
    model = bench.models.get(model_id)
    if model is None:
        raise ValueError(f"task {task.id!r} variant {variant!r}: unknown model {model_id!r}")
    base = {"variant": variant, "model": model_id, "condition": condition, "display_name": model.display_name,
            "kind": model.kind, "family": model.family, "status": scores.get("status", "ok"),
            "reason": scores.get("reason")}
    if base["status"] != "ok":
        return base | {"reason": scores.get("reason") or "skipped (no reason given)"}
    missing = [k for k in _REQUIRED_SCORE_KEYS if k not in scores]
    if missing:
        raise ValueError(f"task {task.id!r} variant {variant!r}: scores lack {missing}")
    run = scores["run"] or {}
    cell = base | {
        "metric": {"id": scores["metric_id"], "value": _finite(scores["metric"]), "ci_lo": _finite(scores["ci_lo"]),
                   "ci_hi": _finite(scores["ci_hi"]), "n": scores.get("n", len(scores["per_example"])),
                   "seed_values": [_finite(v) for v in scores.get("seed_values") or []],
                   "seed_mean": _finite(scores.get("seed_mean")), "seed_std": _finite(scores.get("seed_std"))},
        "correct_share": correct_share(scores["per_example"]),
        "secondary": scores.get("secondary") or {}, "error_counts": scores.get("error_counts") or {},
        "latency": {k: _finite(run.get(k)) for k in ("latency_p50_s", "latency_p95_s", "ttft_p50_s",
                                                      "throughput_qps", "output_tokens_per_s")},
        "tokens": {"input_total": run.get("total_input_tokens"), "output_total": run.get("total_output_tokens"),
                   "n_requests": run.get("n_requests")},
        "run": {k: run.get(k) for k in ("wall_s", "concurrency", "hardware", "served_by", "spend_usd")},
        "stand_in": bool(run.get("stand_in")),
        "training": _training(adapter, bench) if is_lora(condition) else None,
        "samples": _samples(scores),
    }
    cell["cost"] = _cost(cell, scores, model, bench, bench.pricing.default_daily_volume)
    return cell


def _metric(cell: dict) -> float | None:
    return cell.get("metric", {}).get("value") if cell.get("status") == "ok" else None


def _cpq(cell: dict, scenario: str) -> float | None:
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


def _paired(task: TaskConfig, a: dict, b: dict, n_resamples: int, seed: int) -> dict:
    try:
        return dict(compare_cells(task, a, b, n_resamples=n_resamples, seed=seed))
    except Exception as exc:  # one failed test must not lose the rest of the summary
        return {"error": f"compare_cells failed: {type(exc).__name__}: {exc}"}


def _comparisons(task, cells, scores, bench, n_resamples, seed) -> list[dict]:
    def best(keys):
        keys = [k for k in keys if _metric(cells[k]) is not None]
        return max(keys, key=lambda k: _metric(cells[k]), default=None)

    loras = [k for k, c in cells.items() if is_lora(c["condition"])]
    pairs = []
    for model_id in sorted({cells[k]["model"] for k in loras}):
        lora = best([k for k in loras if cells[k]["model"] == model_id])
        for cond in ("5-shot", "zero-shot"):
            other = f"{model_id}__{cond}"
            if lora and other in cells and _metric(cells[other]) is not None:
                pairs.append((f"lora_vs_{cond}", lora, other))
    top = best(loras)
    for api_key in sorted(k for k, c in cells.items() if c["kind"] == "api"):
        if top and _metric(cells[api_key]) is not None:
            pairs.append(("lora_vs_api", top, api_key))
    out = []
    for kind, a, b in pairs:
        ca, cb = cells[a], cells[b]
        ratio = None
        ka, kb = (ca["cost"]["by_scenario"].get(bench.pricing.default_scenario, {}),
                  cb["cost"]["by_scenario"].get(bench.pricing.default_scenario, {}))
        if ka.get("per_1k_correct") and kb.get("per_1k_correct"):
            ratio = kb["per_1k_correct"] / ka["per_1k_correct"]
        out.append({"kind": kind, "a": a, "b": b, "metric_a": _metric(ca), "metric_b": _metric(cb),
                    "diff": _metric(ca) - _metric(cb), "cost_per_1k_correct_ratio": ratio,
                    "paired": _paired(task, scores[a], scores[b], n_resamples, seed)})
    return out


def summarize_task(task: TaskConfig, scores: dict[str, dict], adapters: dict[str, dict], bench: BenchConfig,
                   *, n_resamples: int, seed: int) -> dict:
    cells = {v: _cell(task, v, s, adapters.get(v), bench) for v, s in sorted(scores.items())}
    _break_evens(cells, bench)
    order = sorted(cells, key=lambda k: (_metric(cells[k]) is None, -(_metric(cells[k]) or 0.0), k))
    return {
        "task": task.id, "name": task.name, "task_type": task.task_type, "metric_id": task.metric,
        "metric_label": METRIC_LABELS[task.metric], "accuracy_basis": ACCURACY_BASIS[task.task_type],
        "default_daily_volume": bench.pricing.default_daily_volume,
        "default_scenario": bench.pricing.default_scenario,
        "cells": cells, "order": order,
        "pareto": {s: _pareto(cells, s) for s in SCENARIOS},
        "tco_curves": _tco_curves(cells, bench),
        "comparisons": _comparisons(task, cells, scores, bench, n_resamples, seed),
    }
