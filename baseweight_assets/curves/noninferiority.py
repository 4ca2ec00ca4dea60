"""N*: the fewest labelled examples at which a LoRA cell is non-inferior to an API cell, with a bootstrap CI.

Non-inferior at N: the lower bound of the CI of (LoRA_N - API) on paired questions is above ``-margin``.
N* is the smallest N from which every larger measured N is non-inferior (a lucky point followed by an
inferior one does not count), placed between the last inferior and the first non-inferior measured N by
interpolating the lower bound LINEARLY IN ln N (not on the fitted curve, so N* does not depend on the form
chosen in ``fit``). Censoring: when the smallest measured N is already non-inferior, N* is that N and
``censored`` is "left" (the true N* may be smaller); when the largest is not, N* is None: "not reached with
the data available".

CI for N*: every bootstrap replicate draws questions (or clusters) once for all points and the API cell
(``seeds.joint_draws``; seed noise included, independent between N because each N is its own set of
trainings) and recomputes N* on its lower bounds, each point's lower bound being the replicate's difference
minus the point's own lower half-width (difference - CI lower bound, from the percentile interval), so the
rule applied to the original data gives the reported N* exactly. The CI is the percentile interval of those
N*; replicates that never reach non-inferiority count as +infinity, so an upper bound beyond the largest
measured N is reported as not reached, with the share of such replicates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from baseweight_assets.curves.seeds import CellDraws, paired_summary

INTERPOLATION = "lower CI bound of (LoRA - API) interpolated linearly in ln N between measured N"


def sustained_crossing(ns: Sequence[float], values: Sequence[float], threshold: float
                       ) -> tuple[float | None, str | None]:
    """Smallest N from which every measured value is above ``threshold``, interpolated in ln N.

    -> (N*, None); (ns[0], "left") when all values are above; (None, "not_reached") when the last is not."""
    order = np.argsort(ns)
    n_sorted = np.asarray(ns, dtype=float)[order]
    x = np.log(n_sorted)
    v = np.asarray(values, dtype=float)[order]
    above = v > threshold
    if not above[-1]:
        return None, "not_reached"
    j = len(v) - 1
    while j > 0 and above[j - 1]:
        j -= 1
    if j == 0:
        return float(n_sorted[0]), "left"
    t = (threshold - v[j - 1]) / (v[j] - v[j - 1])  # v[j-1] <= threshold < v[j], so t in [0, 1)
    return float(math.exp(x[j - 1] + t * (x[j] - x[j - 1]))), None


def n_star(ns: Sequence[float], diff: Sequence[float], diff_ci_lo: Sequence[float], diff_draws: np.ndarray,
           margin: float, confidence: float = 0.95) -> dict:
    """N* and its percentile CI from paired differences at each measured N (module docstring).

    ``ns`` ascending; ``diff``/``diff_ci_lo`` per N; ``diff_draws`` (R, len(ns)) replicate differences.
    -> {"value", "censored" ("left" | None), "reached", "measured_n" (first measured N of the final
        non-inferior run), "noninferior" (per N), "ci_lo", "ci_hi", "ci_lo_censored" ("left" | None: the
        bound is at most the smallest N), "ci_hi_censored" ("not_reached" | None: ci_hi is None, beyond the
        largest N), "share_not_reached", "share_left_censored", "n_resamples", "margin", "confidence",
        "interpolation"}"""
    ns = [float(n) for n in ns]
    if list(ns) != sorted(ns) or len(set(ns)) != len(ns):
        raise ValueError(f"n_star: N values must be distinct and ascending, got {ns}")
    diff, lo = np.asarray(diff, dtype=float), np.asarray(diff_ci_lo, dtype=float)
    draws = np.asarray(diff_draws, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != len(ns) or len(diff) != len(ns) or len(lo) != len(ns):
        raise ValueError(f"n_star: {len(ns)} N values, {len(diff)} differences, {len(lo)} lower bounds and "
                         f"draws of shape {draws.shape}")
    threshold = -margin
    value, censored = sustained_crossing(ns, lo, threshold)
    noninferior = [bool(v > threshold) for v in lo]
    measured = next((ns[j] for j in range(len(ns)) if all(noninferior[j:])), None)
    half = diff - lo
    reps = []
    for row in draws:
        rep, _ = sustained_crossing(ns, row - half, threshold)
        reps.append(math.inf if rep is None else rep)
    reps_arr = np.array(reps)
    alpha = (1 - confidence) / 2
    q_lo, q_hi = np.quantile(reps_arr, [alpha, 1 - alpha], method="inverted_cdf")
    share_left = float(np.mean(reps_arr == ns[0]))
    return {"value": value, "censored": "left" if censored == "left" else None, "reached": value is not None,
            "measured_n": measured, "noninferior": noninferior,
            "ci_lo": float(q_lo) if math.isfinite(q_lo) else None,
            "ci_hi": float(q_hi) if math.isfinite(q_hi) else None,
            "ci_lo_censored": "left" if q_lo == ns[0] and share_left > 0 else None,
            "ci_hi_censored": "not_reached" if not math.isfinite(q_hi) else None,
            "share_not_reached": float(np.mean(np.isinf(reps_arr))), "share_left_censored": share_left,
            "n_resamples": len(reps), "margin": margin, "confidence": confidence, "interpolation": INTERPOLATION}


def noninferiority_curve(points: Sequence[tuple[float, CellDraws]], api: CellDraws, margin: float,
                         confidence: float = 0.95) -> dict:
    """Each point (N, its draws) against one API cell on the same draws, and N*.

    -> {"against": api name, "per_point": [{"n", "diff", "ci_lo", "ci_hi", "variance", "noninferior"}],
        "n_star": ``n_star``'s dict}"""
    points = sorted(points, key=lambda p: p[0])
    paired = [{"n": n} | paired_summary(cell, api, confidence) for n, cell in points]
    draws = np.column_stack([cell.draws - api.draws for _, cell in points])
    star = n_star([p["n"] for p in paired], [p["diff"] for p in paired], [p["ci_lo"] for p in paired], draws,
                  margin, confidence)
    for p, ok in zip(paired, star["noninferior"]):
        p["noninferior"] = ok
    return {"against": api.name, "per_point": paired, "n_star": star}
