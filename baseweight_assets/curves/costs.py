"""What it costs to get a fine-tuned model to N labelled examples: labelling, training, and their 12-month sum.

Labelling is paid once for the N examples (``usd_per_example`` x N, the price passed in from
``configs/pricing.yaml``); training is the adapters' recorded device-hours x the hardware's $/h, repeated
``trainings_per_year`` times (``cost.tco.training_cost_per_year``). The fixed 12-month cost that the break-even
surface adds to serving is ``labelling + training per year``. Device-hours between measured N are interpolated
linearly in N (training compute grows with the number of rows); outside the measured range they are unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from baseweight_assets.cost.pricing import SCENARIOS
from baseweight_assets.cost.tco import training_cost_per_year


def gpu_hours_at(n: float, ns: Sequence[float], gpu_hours: Sequence[float | None]) -> float | None:
    """Device-hours of one training at ``n`` rows, from the measured points that have a record; None outside."""
    known = sorted((float(x), float(h)) for x, h in zip(ns, gpu_hours) if h is not None)
    if not known or not known[0][0] <= n <= known[-1][0]:
        return None
    xs, hs = zip(*known)
    return float(np.interp(n, xs, hs))


def reaching_cost(n: float, *, ns: Sequence[float], gpu_hours: Sequence[float | None],
                  label_cost_per_example: float | None, training_rates: Mapping[str, float],
                  trainings_per_year: int) -> dict:
    """-> {"n", "labelling_usd" (None: no labelling price), "gpu_hours" (None: no record at n),
    "training_once_usd": {scenario: $}, "training_per_year_usd": {scenario: $},
    "fixed_per_year_usd": {scenario (low | mid | high): labelling + training per year, unknown parts as 0},
    "missing": [what was left out]}"""
    labelling = label_cost_per_example * n if label_cost_per_example is not None else None
    hours = gpu_hours_at(n, ns, gpu_hours)
    rates = {s: training_rates[s] for s in SCENARIOS if training_rates.get(s) is not None}
    once = {s: hours * rate for s, rate in rates.items()} if hours is not None else {}
    per_year = ({s: training_cost_per_year(hours, rate, trainings_per_year) for s, rate in rates.items()}
                if hours is not None else {})
    missing = []
    if labelling is None:
        missing.append("labelling cost (no labelling price)")
    if hours is None:
        missing.append(f"training cost (no adapter GPU-hours record covering N={n:g})")
    elif len(rates) < len(SCENARIOS):
        missing.append(f"training cost under {sorted(set(SCENARIOS) - set(rates))} (no hourly rate)")
    fixed = {s: (labelling or 0.0) + per_year.get(s, 0.0) for s in SCENARIOS}
    return {"n": n, "labelling_usd": labelling, "gpu_hours": hours, "training_once_usd": once,
            "training_per_year_usd": per_year, "fixed_per_year_usd": fixed, "missing": missing}
