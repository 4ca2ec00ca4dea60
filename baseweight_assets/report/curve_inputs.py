"""Each open model's data-efficiency curve on one task, assembled from the task's cells for ``curves.build``.

- Points: one per ``lora-N`` cell of the model. N is the condition's size; ``lora-full`` is the ``n_train`` of
  its adapter record (``lora_adapter`` value, else seed 0's metadata), dropped when another point already has
  that N. Each point carries the per-seed ``per_example`` lists (``scores["per_seed"]``, else the one
  ``per_example``) and each seed's GPU-hours (the adapter record's ``adapters[i].metadata.gpu_hours``). A
  skipped or incomplete cell is a skipped point with its reason: a cell missing answers never enters a curve.
- API cells: the task's usable API cells (all prompted), with their cost per query (API prices do not depend on
  the GPU scenario).
- Costs: labelling $/example from ``configs/pricing.yaml`` (``cost.pricing.labelling_rate``), the training
  hardware's hourly rates (from the adapters' metadata) and ``trainings_per_year``; serving from the model's
  largest-N usable LoRA cell: its saturated queries/s and its hardware's hourly rates (every size serves the
  same base model, so one throughput stands for all).
- Config: ``run_defaults.noninferiority_margin``, the summary's volume grid, the bootstrap settings, the default
  GPU scenario.

The verdict depends on flags only the dashboard knows (smoke profile, partial data), so ``curve_verdict``
writes it again from the curve's own numbers, with ``curves.verdict.verdict`` as ``build_curve`` does.
"""

from __future__ import annotations

import math

from baseweight_assets.conditions import FULL, is_lora, lora_size
from baseweight_assets.cost.pricing import SCENARIOS, PricingError, hourly_rate, labelling_rate, trainings_per_year
from baseweight_assets.curves.build import CURVES_VERSION, build_curve
from baseweight_assets.curves.verdict import verdict
from baseweight_assets.report.comparisons import usable


def _finite(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _adapter_records(adapter: dict | None) -> list[dict]:
    """Per-seed adapter records (``adapters``), else the single seed-0 record the value carries."""
    if not adapter or adapter.get("status", "ok") != "ok":
        return []
    records = adapter.get("adapters")
    if records:
        return list(records)
    return [{"seed": 0, "metadata": adapter.get("metadata") or {}}] if adapter.get("metadata") else []


def adapter_n_train(adapter: dict | None) -> int | None:
    """Training rows behind an adapter record: its ``n_train``, else seed 0's metadata ``n_train``."""
    if not adapter:
        return None
    n = adapter.get("n_train")
    if n is None:
        records = _adapter_records(adapter)
        n = (records[0].get("metadata") or {}).get("n_train") if records else None
    return int(n) if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def _gpu_hours(adapter: dict | None) -> list[float | None] | None:
    records = _adapter_records(adapter)
    return [_finite((r.get("metadata") or {}).get("gpu_hours")) for r in records] or None


def _per_seed(scores: dict) -> list[list[dict]]:
    lists = [s.get("per_example") for s in scores.get("per_seed") or []]
    lists = [rows for rows in lists if rows]
    return lists or ([scores["per_example"]] if scores.get("per_example") else [])


def curve_points(model: str, cells: dict[str, dict], scores: dict[str, dict],
                 adapters: dict[str, dict]) -> tuple[list[dict], list[dict]]:
    """-> (build_curve points, not plotted [{"variant", "reason"}]) for ``model``'s LoRA cells."""
    points, not_plotted = [], []
    variants = sorted((k for k, c in cells.items() if c["model"] == model and is_lora(c["condition"])),
                      key=lambda k: lora_size(cells[k]["condition"]) == FULL)  # sized points first
    for key in variants:
        cell, size = cells[key], lora_size(cells[key]["condition"])
        n = adapter_n_train(adapters.get(key)) if size == FULL else size
        if n is None:
            not_plotted.append({"variant": key, "reason": cell.get("reason") if cell["status"] == "skipped"
                                else "lora-full: its adapter record gives no n_train"})
            continue
        if any(p["n"] == n for p in points):
            not_plotted.append({"variant": key, "reason": f"lora-full trained on {n} rows, the same N as "
                                                          f"lora-{n}: shown once"})
            continue
        point = {"n": n, "variant": key, "status": "ok", "reason": None}
        if not usable(cell):
            point |= {"status": "skipped", "reason": cell.get("reason") or "no metric"}
        else:
            point |= {"per_seed": _per_seed(scores[key]), "gpu_hours": _gpu_hours(adapters.get(key))}
        points.append(point)
    return points, not_plotted


def api_inputs(cells: dict[str, dict], scores: dict[str, dict], scenario: str) -> dict[str, dict]:
    """The usable API cells as build_curve's ``api_cells``."""
    out = {}
    for key, cell in sorted(cells.items()):
        if cell["kind"] != "api" or not usable(cell):
            continue
        cost = ((cell.get("cost") or {}).get("by_scenario") or {}).get(scenario) or {}
        out[key] = {"per_example": scores[key]["per_example"],
                    "display_name": f"{cell['display_name']} ({cell['condition']})",
                    "cost_per_query": cost.get("per_query"), "stand_in": bool(cell.get("stand_in")), "status": "ok"}
    return out


def _rates(pricing, hardware: str | None) -> tuple[dict, str | None]:
    if not hardware:
        return {}, "no hardware recorded"
    try:
        return {s: hourly_rate(pricing, hardware, s) for s in SCENARIOS}, None
    except PricingError as exc:
        return {}, str(exc)


def curve_costs(task_id: str, model: str, cells: dict[str, dict], adapters: dict[str, dict], points: list[dict],
                bench) -> dict:
    """build_curve's ``costs`` (module docstring), plus "serving_from", "training_hardware" and "notes"."""
    pricing, notes = bench.pricing, []
    try:
        rate = labelling_rate(pricing, task_id)
        label, source = rate.usd_per_example, rate.source
    except PricingError as exc:
        label, source = None, None
        notes.append(f"labelling cost left out: {exc}")
    hardware = next(((r.get("metadata") or {}).get("hardware") for p in points
                     for r in _adapter_records(adapters.get(p["variant"])) if (r.get("metadata") or {}).get("hardware")),
                    None)
    training_rates, why = _rates(pricing, hardware)
    if why:
        notes.append(f"training cost left out: {why}")
    serving = [p["variant"] for p in sorted(points, key=lambda p: -p["n"]) if p["status"] == "ok"
               and (cells[p["variant"]].get("cost") or {}).get("qps") and cells[p["variant"]]["cost"]["by_scenario"]]
    serving_from = serving[0] if serving else None
    qps, serving_rates = None, {}
    if serving_from:
        cost = cells[serving_from]["cost"]
        qps = cost["qps"]
        serving_rates = {s: cost["by_scenario"][s]["hourly_rate"] for s in SCENARIOS if s in cost["by_scenario"]}
    else:
        notes.append(f"no LoRA cell of {model} has a serving cost: no break-even surface")
    return {"label_cost_per_example": label, "label_cost_source": source, "training_hourly_rates": training_rates,
            "serving_hourly_rates": serving_rates, "serving_qps": qps,
            "utilisation_target": pricing.utilisation_target, "trainings_per_year": trainings_per_year(pricing),
            "serving_from": serving_from, "training_hardware": hardware, "notes": notes}


def task_curves(task, cells: dict[str, dict], scores: dict[str, dict], adapters: dict[str, dict], bench, *,
                volumes: list[float], metric_label: str, n_resamples: int, seed: int) -> dict[str, dict]:
    """model id -> its curve: ``build_curve``'s dict plus "model", "display_name", "metric_label",
    "not_plotted", "serving_from", "training_hardware" and "cost_notes". A curve that cannot be built
    is {"status": "error", "reason"} with the same extra keys, never an exception."""
    scenario = bench.pricing.default_scenario
    apis = api_inputs(cells, scores, scenario)
    out = {}
    for model in sorted({c["model"] for c in cells.values() if c["kind"] == "local" and is_lora(c["condition"])}):
        display = bench.models[model].display_name
        points, not_plotted = curve_points(model, cells, scores, adapters)
        costs = curve_costs(task.id, model, cells, adapters, points, bench)
        extra = {"model": model, "display_name": display, "metric_label": metric_label, "not_plotted": not_plotted,
                 "serving_from": costs.pop("serving_from"), "training_hardware": costs.pop("training_hardware"),
                 "cost_notes": costs.pop("notes")}
        config = {"margin": bench.run.noninferiority_margin, "volumes": volumes, "n_resamples": n_resamples,
                  "seed": seed, "scenario": scenario, "model_name": display, "metric_label": metric_label}
        try:
            curve = build_curve(task.metric, points, apis, costs, config)
        except Exception as exc:  # one model's curve must not lose the task's summary
            curve = {"curves_version": CURVES_VERSION, "status": "error", "margin": config["margin"],
                     "reason": f"build_curve failed: {type(exc).__name__}: {exc}", "points": [], "skipped": [],
                     "api": {}, "verdict": None}
        out[model] = curve | extra
    return out


def curve_verdict(curve: dict, *, smoke: bool, partial: str | None, scenario: str,
                  min_volume: float | None) -> str:
    """The curve's one-sentence verdict with the dashboard's flags (``curves.verdict.verdict``)."""
    args = {"margin": curve["margin"], "scenario": scenario, "metric_label": curve.get("metric_label", ""),
            "smoke": smoke, "partial": partial}
    if curve.get("status") != "ok":
        return verdict(curve["display_name"], None, None, None, reason=curve.get("reason") or "no curve", **args)
    best = curve["api"][curve["best_api"]]
    corners = curve["surface"]["corner"] if curve.get("surface") else None
    return verdict(curve["display_name"], best["display_name"], curve["n_star"], corners,
                   max_n=max(p["n"] for p in curve["points"]), min_volume=min_volume,
                   n_seeds=min(p["n_seeds"] for p in curve["points"]), stand_in=best["stand_in"], **args)
