"""``build_curve``: one task x open model's data-efficiency curve, the ``curves`` entry of the dashboard JSON.

Inputs (JSON-able, assembled by the caller from scores, adapters and configs):

- ``points``: one per ``lora-N`` cell: ``{"n": int, "variant": str, "status": "ok" | "skipped",
  "reason": str | None, "per_seed": [per_example list for each training seed], "gpu_hours": float |
  [float | None per seed] | None}`` (per_example rows: ``question_id``, ``correct``, optional ``cluster``,
  plus what the task's metric factory reads).
- ``api_cells``: ``{variant: {"per_example": [...], "display_name": str, "cost_per_query": float | None,
  "stand_in": bool, "status": "ok" | "skipped"}}``: the prompted API cells.
- ``costs``: ``{"label_cost_per_example": float | None, "label_cost_source": str | None,
  "training_hourly_rates": {scenario: $/h}, "serving_hourly_rates": {scenario: $/h},
  "serving_qps": float | None (the LoRA model's measured queries/s), "utilisation_target": float,
  "trainings_per_year": int}``.
- ``config``: ``{"margin": float (required), "volumes": [daily volumes] (required for the surface),
  "n_resamples": 1000, "seed": 0, "confidence": 0.95, "scenario": "mid", "model_name": str,
  "metric_label": str, "smoke": bool, "partial": str | None}``.

Output (``CURVES_VERSION`` = 1; every float finite or None)::

    {"curves_version": 1, "status": "ok" | "no_curve", "reason": str | None,
     "metric_id", "margin", "confidence", "n_resamples", "seed",
     "n_questions", "n_clusters" (resampling units; = n_questions without clusters), "n_dropped_questions": {list: count},
     "points": [{"n", "variant", "n_seeds", "metric", "ci_lo", "ci_hi", "seed_values",
                 "variance": {"examples", "seeds", "total", "seed_sd", "seed_share", "n_seeds", "note"},
                 "gpu_hours"}],                      # ascending N, measured cells only
     "skipped": [{"n", "variant", "reason"}],
     "api": {variant: {"display_name", "metric", "ci_lo", "ci_hi", "cost_per_query", "stand_in"}},
     "best_api": variant | None,                     # highest metric: N* and the surface are against it
     "fit": fit.fit_learning_curve's dict,
     "noninferiority": {api variant: {"against", "per_point": [{"n", "diff", "ci_lo", "ci_hi", "variance",
                                       "noninferior"}], "n_star": {...}}},
     "n_star": noninferiority[best_api]["n_star"] | None,
     "costs": {"label_cost_per_example", "label_cost_source", "per_point": [costs.reaching_cost at each N],
               "at_n_star": reaching_cost | None, "at_n_star_ci": {"lo": ..., "hi": ...}},
     "surface": surface.break_even_surface's dict | None, "surface_reason": str | None,
     "verdict": str}

Every metric figure is computed on the questions every point and API cell share, with one set of
bootstrap draws (``seeds.joint_draws``), so per-point CIs, paired differences and N* agree with each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from baseweight_assets.curves.costs import reaching_cost
from baseweight_assets.curves.fit import fit_learning_curve
from baseweight_assets.curves.noninferiority import noninferiority_curve
from baseweight_assets.curves.seeds import cell_summary, joint_draws
from baseweight_assets.curves.surface import break_even_surface
from baseweight_assets.curves.verdict import verdict
from baseweight_assets.scoring.stats import metric_factory

CURVES_VERSION = 1


def _clean(obj):
    """JSON-able copy: numpy scalars to Python, non-finite floats to None, tuples to lists."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _gpu_hours(value) -> float | None:
    """One training's device-hours: the mean over the seeds that have a record."""
    if value is None:
        return None
    values = [v for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None]
    return float(np.mean(values)) if values else None


def _split_points(points: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    ok, skipped, seen = [], [], set()
    for p in points:
        n = p.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"curve point {p.get('variant')!r}: n must be a positive integer, got {n!r}")
        if n in seen:
            raise ValueError(f"curve point {p.get('variant')!r}: two points have N={n}")
        seen.add(n)
        if p.get("status", "ok") != "ok" or not p.get("per_seed"):
            skipped.append({"n": n, "variant": p.get("variant"),
                            "reason": p.get("reason") or "no scored training seed"})
        else:
            ok.append(p)
    return sorted(ok, key=lambda p: p["n"]), sorted(skipped, key=lambda p: p["n"])


def _surface(ns, n_star_value, costs, api, config, cost_kwargs) -> tuple[dict | None, str | None]:
    missing = [k for k, v in (("serving_qps", costs.get("serving_qps")),
                              ("serving_hourly_rates", costs.get("serving_hourly_rates")),
                              ("utilisation_target", costs.get("utilisation_target")),
                              ("volumes", config.get("volumes")),
                              ("API cost per query", api.get("cost_per_query"))) if not v]
    if missing:
        return None, f"no break-even surface: missing {', '.join(missing)}"
    axis = sorted(set(ns) | ({math.ceil(n_star_value)} if n_star_value is not None else set()))
    fixed = [reaching_cost(n, **cost_kwargs)["fixed_per_year_usd"] for n in axis]
    rates = costs["serving_hourly_rates"]
    surface = break_even_surface(axis, config["volumes"], n_star=n_star_value,
                                 fixed_per_year={s: [f[s] for f in fixed] for s in rates},
                                 api_cost_per_query=api["cost_per_query"], serving_qps=costs["serving_qps"],
                                 serving_rates=rates, utilisation_target=costs["utilisation_target"])
    return surface, None


def build_curve(task_metric_id: str, points: Sequence[dict], api_cells: Mapping[str, dict], costs: Mapping,
                config: Mapping) -> dict:
    """The curve, N* against every API cell, costs, the break-even surface and the verdict (module docstring)."""
    if "margin" not in config or not 0 <= config["margin"] < 1:
        raise ValueError(f"build_curve: config needs a margin in [0, 1), got {config.get('margin')!r}")
    margin, confidence = float(config["margin"]), float(config.get("confidence", 0.95))
    n_resamples, seed = int(config.get("n_resamples", 1000)), int(config.get("seed", 0))
    scenario = config.get("scenario", "mid")
    ok, skipped = _split_points(points)
    apis = {k: v for k, v in sorted(api_cells.items()) if v.get("status", "ok") == "ok" and v.get("per_example")}
    out = {"curves_version": CURVES_VERSION, "status": "ok", "reason": None, "metric_id": task_metric_id,
           "margin": margin, "confidence": confidence, "n_resamples": n_resamples, "seed": seed,
           "n_questions": None, "n_clusters": None, "n_dropped_questions": {}, "points": [], "skipped": skipped,
           "api": {}, "best_api": None, "fit": None, "noninferiority": {}, "n_star": None,
           "costs": None, "surface": None, "surface_reason": None}
    verdict_args = {"margin": margin, "scenario": scenario, "metric_label": config.get("metric_label", ""),
                    "smoke": bool(config.get("smoke")), "partial": config.get("partial")}
    model = config.get("model_name", "model")
    if not ok or not apis:
        out.update(status="no_curve", reason="no measured LoRA point" if not ok else "no API cell to compare against")
        out["verdict"] = verdict(model, None, None, None, reason=out["reason"], **verdict_args)
        return _clean(out)

    cells = {p["variant"]: p["per_seed"] for p in ok} | {k: [v["per_example"]] for k, v in apis.items()}
    if len(cells) != len(ok) + len(apis):
        raise ValueError("build_curve: a LoRA point and an API cell share a variant name")
    aligned, draws = joint_draws(cells, metric_factory(task_metric_id), n_resamples, seed)
    out.update(n_questions=len(aligned.question_ids),
               n_clusters=aligned.n_clusters,
               n_dropped_questions={k: v for k, v in aligned.n_dropped.items() if v})
    for p in ok:
        out["points"].append({"n": p["n"], "variant": p["variant"]} | cell_summary(draws[p["variant"]], confidence)
                             | {"gpu_hours": _gpu_hours(p.get("gpu_hours"))})
    for k, v in apis.items():
        summary = cell_summary(draws[k], confidence)
        out["api"][k] = {"display_name": v.get("display_name", k), "metric": summary["metric"],
                         "ci_lo": summary["ci_lo"], "ci_hi": summary["ci_hi"],
                         "cost_per_query": v.get("cost_per_query"), "stand_in": bool(v.get("stand_in"))}
    best = max(out["api"], key=lambda k: (out["api"][k]["metric"], k))
    out["best_api"] = best
    pts = out["points"]
    out["fit"] = fit_learning_curve([p["n"] for p in pts], [p["metric"] for p in pts],
                                    [p["ci_lo"] for p in pts], [p["ci_hi"] for p in pts], confidence)
    for k in apis:
        out["noninferiority"][k] = noninferiority_curve([(p["n"], draws[p["variant"]]) for p in ok], draws[k],
                                                        margin, confidence)
    star = out["noninferiority"][best]["n_star"]
    out["n_star"] = star

    ns = [p["n"] for p in pts]
    cost_kwargs = {"ns": ns, "gpu_hours": [p["gpu_hours"] for p in pts],
                   "label_cost_per_example": costs.get("label_cost_per_example"),
                   "training_rates": costs.get("training_hourly_rates") or {},
                   "trainings_per_year": int(costs.get("trainings_per_year", 1))}
    at = lambda n: reaching_cost(math.ceil(n), **cost_kwargs) if n is not None else None  # noqa: E731
    out["costs"] = {"label_cost_per_example": costs.get("label_cost_per_example"),
                    "label_cost_source": costs.get("label_cost_source"),
                    "per_point": [reaching_cost(n, **cost_kwargs) for n in ns],
                    "at_n_star": at(star["value"]),
                    "at_n_star_ci": {"lo": at(star["ci_lo"]), "hi": at(star["ci_hi"])}}
    out["surface"], out["surface_reason"] = _surface(ns, star["value"], costs, out["api"][best], config, cost_kwargs)

    corners = out["surface"]["corner"] if out["surface"] else None
    out["verdict"] = verdict(model, out["api"][best]["display_name"], star, corners,
                             max_n=max(ns), min_volume=min(config["volumes"]) if config.get("volumes") else None,
                             n_seeds=min(p["n_seeds"] for p in pts), stand_in=out["api"][best]["stand_in"],
                             **verdict_args)
    return _clean(out)
