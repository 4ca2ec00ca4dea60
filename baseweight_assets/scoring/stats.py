"""Confidence intervals and paired comparisons at the level of examples (not of seed means).

A *metric factory* is ``fn(per_example: list[dict]) -> stat`` where ``stat(idx: np.ndarray) -> float``
evaluates the metric on ``per_example[idx]``. Factories pre-encode the rows once, so a 1,000-resample
bootstrap of F1 over 10,000 rows stays well under a second. ``mean_correct`` is the factory for
accuracy-type metrics (accuracy, pass@1, mean token F1); ``classification.f1_metric`` gives F1.

Bootstrap: percentile intervals from a seeded numpy generator, resampling examples with replacement
(own loop because F1 is not a per-example statistic and scipy's default BCa needs n extra evaluations).
Paired bootstrap: both cells are resampled with the SAME indices over their shared question ids; the
two-sided p-value is ``min(1, 2 * min(P*(d <= 0), P*(d >= 0)))`` with add-one smoothing.
McNemar: exact two-sided binomial test on the discordant pairs when there are fewer than 25 of them,
otherwise the chi-square statistic with continuity correction (1 degree of freedom).
Minimum detectable effect: the smallest difference in a proportion-type metric that a two-sided test
at ``alpha`` detects with ``power`` when both cells have ``n`` examples and base rate ``p``:
``(z_{1-alpha/2} + z_{power}) * sqrt(2 p (1-p) / n)`` -- conservative for paired designs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats as sps

MetricFactory = Callable[[list[dict]], Callable[[np.ndarray], float]]
ACCURACY_TYPE = ("accuracy", "pass_at_1")


def mean_correct(per_example: list[dict]) -> Callable[[np.ndarray], float]:
    values = np.fromiter((float(r["correct"]) for r in per_example), dtype=float, count=len(per_example))
    return lambda idx: float(values[idx].mean()) if len(idx) else float("nan")


def _resample_stats(stat: Callable[[np.ndarray], float], n: int, n_resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([stat(rng.integers(0, n, size=n)) for _ in range(n_resamples)], dtype=float)


def bootstrap_ci(values_fn: MetricFactory, per_example: list[dict], n_resamples: int, seed: int,
                 confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the metric over examples; (nan, nan) for an empty sample."""
    n = len(per_example)
    if n == 0:
        return float("nan"), float("nan")
    draws = _resample_stats(values_fn(per_example), n, n_resamples, seed)
    alpha = (1 - confidence) / 2
    lo, hi = np.nanquantile(draws, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _join(a: list[dict], b: list[dict]) -> tuple[list[dict], list[dict]]:
    b_by_id = {r["question_id"]: r for r in b}
    if len(b_by_id) != len(b) or len({r["question_id"] for r in a}) != len(a):
        raise ValueError("paired comparison: per_example lists must have unique question_id values")
    ids = sorted(r["question_id"] for r in a if r["question_id"] in b_by_id)
    a_by_id = {r["question_id"]: r for r in a}
    return [a_by_id[i] for i in ids], [b_by_id[i] for i in ids]


def paired_bootstrap(a: list[dict], b: list[dict], metric_fn: MetricFactory = mean_correct,
                     n_resamples: int = 1000, seed: int = 0) -> dict:
    """Metric(a) - metric(b) on shared question ids, its percentile CI and a two-sided p-value."""
    a, b = _join(a, b)
    n = len(a)
    if n == 0:
        return {"n": 0, "diff": None, "ci_lo": None, "ci_hi": None, "p_value": None}
    stat_a, stat_b = metric_fn(a), metric_fn(b)
    full = np.arange(n)
    diff = stat_a(full) - stat_b(full)
    draws = _resample_stats(lambda idx: stat_a(idx) - stat_b(idx), n, n_resamples, seed)  # same indices for both
    lo, hi = np.quantile(draws, [0.025, 0.975])
    below = (np.sum(draws <= 0) + 1) / (n_resamples + 1)
    above = (np.sum(draws >= 0) + 1) / (n_resamples + 1)
    return {"n": n, "diff": float(diff), "ci_lo": float(lo), "ci_hi": float(hi),
            "p_value": float(min(1.0, 2 * min(below, above)))}


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> dict:
    """McNemar's test on paired binary outcomes: {n, b, c, statistic, p_value, method}."""
    if len(a_correct) != len(b_correct):
        raise ValueError(f"mcnemar: {len(a_correct)} vs {len(b_correct)} outcomes")
    b = sum(1 for x, y in zip(a_correct, b_correct) if x and not y)
    c = sum(1 for x, y in zip(a_correct, b_correct) if y and not x)
    if b + c == 0:
        return {"n": len(a_correct), "b": 0, "c": 0, "statistic": 0.0, "p_value": 1.0, "method": "exact"}
    if b + c < 25:
        p = sps.binomtest(min(b, c), b + c, 0.5).pvalue
        return {"n": len(a_correct), "b": b, "c": c, "statistic": float(min(b, c)),
                "p_value": float(min(1.0, p)), "method": "exact"}
    chi2 = (abs(b - c) - 1) ** 2 / (b + c)
    return {"n": len(a_correct), "b": b, "c": c, "statistic": float(chi2),
            "p_value": float(sps.chi2.sf(chi2, 1)), "method": "chi2_cc"}


def minimum_detectable_effect(n: int, alpha: float = 0.05, power: float = 0.8, p: float = 0.5) -> float:
    if n <= 0:
        return float("nan")
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    return float(z * math.sqrt(2 * p * (1 - p) / n))


def metric_factory(metric_id: str) -> MetricFactory:
    """The factory behind a task's headline metric id."""
    if metric_id in ("macro_f1", "weighted_f1"):
        from baseweight_assets.scoring.classification import f1_metric

        return f1_metric(metric_id.split("_")[0])
    if metric_id in ("accuracy", "pass_at_1", "token_f1"):
        return mean_correct
    raise ValueError(f"no metric factory for {metric_id!r}")


def compare_cells(task, a_scores: dict, b_scores: dict, *, n_resamples: int = 1000, seed: int = 0) -> dict:
    """Paired comparison of two score dicts of one task on their shared question ids.

    Returns {"metric_id", "n", "diff" (a - b), "ci_lo", "ci_hi", "p_value", "test", "mcnemar", "mde"}.
    ``p_value`` comes from McNemar for accuracy-type metrics (``test`` = "mcnemar"), else from the
    paired bootstrap (``test`` = "paired_bootstrap"); the CI is always the paired bootstrap's.
    """
    a_rows, b_rows = a_scores.get("per_example") or [], b_scores.get("per_example") or []
    boot = paired_bootstrap(a_rows, b_rows, metric_factory(task.metric), n_resamples, seed)
    out = {"metric_id": task.metric, **boot, "test": "paired_bootstrap", "mcnemar": None,
           "mde": minimum_detectable_effect(boot["n"]) if boot["n"] else None}
    if task.metric in ACCURACY_TYPE and boot["n"]:
        a_j, b_j = _join(a_rows, b_rows)
        test = mcnemar([r["correct"] >= 1 for r in a_j], [r["correct"] >= 1 for r in b_j])
        out.update(mcnemar=test, p_value=test["p_value"], test="mcnemar")
    return out
