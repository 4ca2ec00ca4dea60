"""Confidence intervals, paired comparisons and multiple-testing correction at the level of questions.

A *metric factory* is ``fn(per_example: list[dict]) -> stat`` where ``stat(idx: np.ndarray) -> float``
evaluates the metric on ``per_example[idx]`` (an index may repeat). Factories pre-encode the rows once, so a
1,000-resample bootstrap of F1 over 10,000 rows stays well under a second. ``mean_correct`` is the factory
for per-question metrics (accuracy, pass@1, token F1, multi-span F1); ``classification.f1_metric`` gives
macro / weighted F1. Every function here sees SCORED questions only: ``score`` leaves missing ones out of
per_example, and ``scored`` drops any entry still marked missing.

Clusters: each per_example entry may carry ``cluster`` (``score`` sets it from the task's ``cluster_by``
meta field, e.g. the CUAD contract; default: the question id). Questions of one cluster are not
independent, so every resampling below draws or swaps whole clusters (Miller 2024, "Adding Error Bars to
Evals", clustered standard errors). With one question per cluster it is the ordinary question-level version.

Bootstrap CI: percentile interval over ``n_resamples`` cluster bootstrap resamples (draw as many clusters
as there are, with replacement; take all their questions) from ``np.random.default_rng(seed)``. Own loop:
F1 is not a per-question statistic, and scipy's default BCa needs a jackknife pass of n extra evaluations.
Paired bootstrap (the CI of a difference): both cells resampled with the SAME clusters over their shared
question ids.
Paired permutation test (the p-value of a difference; approximate randomisation, Noreen 1989): under the
null the two systems are exchangeable, so each cluster's outputs are swapped between them with
probability 1/2 and the metric difference recomputed. ``scipy.stats.permutation_test`` with
``permutation_type="samples"`` does it: all 2^G swaps when that is at most ``n_resamples`` (exact), else
``n_resamples`` seeded random ones with the add-one p-value ``(1 + #{d* >= d}) / (1 + R)`` per side; the
two-sided p-value is twice the smaller side, capped at 1. Centred on the null by construction, unlike
counting bootstrap draws of the difference on either side of 0.
McNemar: exact two-sided binomial test on the discordant pairs when there are fewer than 25 of them,
otherwise the chi-square statistic with continuity correction (1 degree of freedom). ``compare_cells``
uses it for accuracy-type metrics when every question is its own cluster (its pairs must be independent).
Holm (1979): step-down adjusted p-values for the comparisons shown together, ``holm``.
Minimum detectable effect (``bootstrap_mde``): the smallest true difference a two-sided level-``alpha``
test detects with probability ``power`` given the observed spread: SD of the paired cluster-bootstrap
difference x (z_{1-alpha/2} + z_{power}). Used for EVERY metric: for F1-type metrics there is no
binomial formula, and for accuracy-type metrics the bootstrap SD already counts the pairing (only
discordant questions move the difference) and the clusters, which the two-proportion formula ignores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

MetricFactory = Callable[[list[dict]], Callable[[np.ndarray], float]]
ACCURACY_TYPE = ("accuracy", "pass_at_1")


def _sps():
    from scipy import stats  # on first use: importing scipy.stats costs ~1 s in every Dagster run, few test

    return stats


def mean_of(key: str) -> MetricFactory:
    """Factory: the mean of a per-question number ``key`` (nan on an empty index)."""

    def factory(per_example: list[dict]) -> Callable[[np.ndarray], float]:
        values = np.fromiter((float(r[key]) for r in per_example), dtype=float, count=len(per_example))
        return lambda idx: float(values[idx].mean()) if len(idx) else float("nan")

    return factory


mean_correct = mean_of("correct")


def scored(per_example: list[dict]) -> list[dict]:
    """The entries that count: not missing (defensive; ``score`` already leaves missing questions out)."""
    return [r for r in per_example if r.get("category") != "missing" and r.get("correct") is not None]


class ClusterSampler:
    """Cluster bootstrap index draws over per_example entries (clusters in order of first appearance)."""

    def __init__(self, per_example: list[dict]):
        codes: dict = {}
        labels = np.fromiter((codes.setdefault(r.get("cluster", r["question_id"]), len(codes)) for r in per_example),
                             dtype=np.int64, count=len(per_example))
        self.n, self.n_clusters = len(per_example), len(codes)
        self.labels = labels
        self.order = np.argsort(labels, kind="stable")  # rows grouped by cluster
        self.sizes = np.bincount(labels, minlength=self.n_clusters)
        self.offsets = np.concatenate(([0], np.cumsum(self.sizes)[:-1])) if self.n_clusters else np.zeros(0, int)
        self.singletons = bool(self.n_clusters == self.n)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        picks = rng.integers(0, self.n_clusters, size=self.n_clusters)
        if self.singletons:
            return self.order[picks]
        lengths = self.sizes[picks]
        ends = np.cumsum(lengths)
        within = np.arange(ends[-1]) - np.repeat(ends - lengths, lengths)
        return self.order[np.repeat(self.offsets[picks], lengths) + within]


def _resample_stats(stat: Callable[[np.ndarray], float], sampler: ClusterSampler, n_resamples: int,
                    seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([stat(sampler.draw(rng)) for _ in range(n_resamples)], dtype=float)


def bootstrap_ci(values_fn: MetricFactory, per_example: list[dict], n_resamples: int, seed: int,
                 confidence: float = 0.95) -> tuple[float, float]:
    """Percentile cluster-bootstrap CI of the metric; (nan, nan) for an empty sample."""
    if not per_example:
        return float("nan"), float("nan")
    draws = _resample_stats(values_fn(per_example), ClusterSampler(per_example), n_resamples, seed)
    alpha = (1 - confidence) / 2
    lo, hi = np.nanquantile(draws, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _join(a: list[dict], b: list[dict]) -> tuple[list[dict], list[dict]]:
    """Entries of both cells for their shared question ids, sorted by id; clusters taken from ``a``."""
    b_by_id = {r["question_id"]: r for r in b}
    if len(b_by_id) != len(b) or len({r["question_id"] for r in a}) != len(a):
        raise ValueError("paired comparison: per_example lists must have unique question_id values")
    ids = sorted(r["question_id"] for r in a if r["question_id"] in b_by_id)
    a_by_id = {r["question_id"]: r for r in a}
    a_j = [a_by_id[i] for i in ids]
    b_j = [{**b_by_id[i], "cluster": r.get("cluster", r["question_id"])} for i, r in zip(ids, a_j)]
    return a_j, b_j


def bootstrap_mde(diff_draws: np.ndarray, alpha: float = 0.05, power: float = 0.8) -> float:
    """SD of the paired bootstrap difference x (z_{1-alpha/2} + z_power); nan with fewer than 2 draws."""
    draws = np.asarray(diff_draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size < 2:
        return float("nan")
    return float(np.std(draws, ddof=1) * (_sps().norm.ppf(1 - alpha / 2) + _sps().norm.ppf(power)))


def paired_bootstrap(a: list[dict], b: list[dict], metric_fn: MetricFactory = mean_correct,
                     n_resamples: int = 1000, seed: int = 0) -> dict:
    """Metric(a) - metric(b) on shared question ids with its cluster-bootstrap percentile CI.

    Returns {"n", "n_clusters", "diff", "ci_lo", "ci_hi", "sd" (of the draws), "mde" (``bootstrap_mde``)}.
    """
    a, b = _join(scored(a), scored(b))
    if not a:
        return {"n": 0, "n_clusters": 0, "diff": None, "ci_lo": None, "ci_hi": None, "sd": None, "mde": None}
    stat_a, stat_b = metric_fn(a), metric_fn(b)
    sampler = ClusterSampler(a)
    full = np.arange(len(a))
    draws = _resample_stats(lambda idx: stat_a(idx) - stat_b(idx), sampler, n_resamples, seed)  # same draws
    lo, hi = np.nanquantile(draws, [0.025, 0.975])
    return {"n": len(a), "n_clusters": sampler.n_clusters, "diff": float(stat_a(full) - stat_b(full)),
            "ci_lo": float(lo), "ci_hi": float(hi), "sd": float(np.nanstd(draws, ddof=1)) if n_resamples > 1 else None,
            "mde": bootstrap_mde(draws)}


def paired_permutation(a: list[dict], b: list[dict], metric_fn: MetricFactory = mean_correct,
                       n_resamples: int = 1000, seed: int = 0) -> dict:
    """Two-sided paired permutation test of metric(a) - metric(b), swapping whole clusters (module docstring).

    Returns {"n", "n_clusters", "diff", "p_value", "n_resamples" (permutations evaluated), "exact"}.
    """
    a, b = _join(scored(a), scored(b))
    n = len(a)
    if n == 0:
        return {"n": 0, "n_clusters": 0, "diff": None, "p_value": None, "n_resamples": 0, "exact": None}
    sampler = ClusterSampler(a)
    stat = metric_fn(a + b)  # rows 0..n-1 are a's, n..2n-1 are b's: a swap is an index shift of n
    rows = np.arange(n)
    diff = stat(rows) - stat(rows + n)
    if sampler.n_clusters < 2:  # the only swap negates the difference: the exact two-sided p-value is 1
        return {"n": n, "n_clusters": sampler.n_clusters, "diff": float(diff), "p_value": 1.0, "n_resamples": 2,
                "exact": True}

    def difference(source_a: np.ndarray, source_b: np.ndarray) -> float:
        shift_a = n * source_a.astype(np.int64)[sampler.labels]
        shift_b = n * source_b.astype(np.int64)[sampler.labels]
        return stat(rows + shift_a) - stat(rows + shift_b)

    g = sampler.n_clusters
    res = _sps().permutation_test((np.zeros(g), np.ones(g)), difference, permutation_type="samples", vectorized=False,
                               n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(seed))
    exact = 2 ** g <= n_resamples
    return {"n": n, "n_clusters": g, "diff": float(diff), "p_value": float(res.pvalue),
            "n_resamples": int(2 ** g if exact else n_resamples), "exact": exact}


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> dict:
    """McNemar's test on paired binary outcomes: {n, b, c, statistic, p_value, method}."""
    if len(a_correct) != len(b_correct):
        raise ValueError(f"mcnemar: {len(a_correct)} vs {len(b_correct)} outcomes")
    b = sum(1 for x, y in zip(a_correct, b_correct) if x and not y)
    c = sum(1 for x, y in zip(a_correct, b_correct) if y and not x)
    if b + c == 0:
        return {"n": len(a_correct), "b": 0, "c": 0, "statistic": 0.0, "p_value": 1.0, "method": "exact"}
    if b + c < 25:
        p = _sps().binomtest(min(b, c), b + c, 0.5).pvalue
        return {"n": len(a_correct), "b": b, "c": c, "statistic": float(min(b, c)),
                "p_value": float(min(1.0, p)), "method": "exact"}
    chi2 = (abs(b - c) - 1) ** 2 / (b + c)
    return {"n": len(a_correct), "b": b, "c": c, "statistic": float(chi2),
            "p_value": float(_sps().chi2.sf(chi2, 1)), "method": "chi2_cc"}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm (1979) step-down adjusted p-values, in the input order; None entries stay None and do not count.

    With the m p-values sorted ascending, p_(1) <= ... <= p_(m): adjusted_(i) = max over j <= i of
    min(1, (m - j + 1) * p_(j)). Rejecting where adjusted <= alpha controls the family-wise error at alpha.
    """
    present = [(i, float(p)) for i, p in enumerate(p_values) if p is not None]
    for i, p in present:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"holm: p-value #{i} is {p}, outside [0, 1]")
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(present, key=lambda x: x[1])):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def metric_factory(metric_id: str) -> MetricFactory:
    """The factory behind a task's headline metric id."""
    if metric_id in ("macro_f1", "weighted_f1"):
        from baseweight_assets.scoring.classification import f1_metric

        return f1_metric(metric_id.split("_")[0])
    if metric_id in ("accuracy", "pass_at_1", "token_f1", "multi_span_f1"):
        return mean_correct
    raise ValueError(f"no metric factory for {metric_id!r}")


def compare_cells(task, a_scores: dict, b_scores: dict, *, n_resamples: int = 1000, seed: int = 0) -> dict:
    """Paired comparison of two score dicts of one task on their shared SCORED question ids.

    Returns {"metric_id", "n", "n_clusters", "diff" (a - b), "ci_lo", "ci_hi" (paired cluster bootstrap),
    "p_value", "test", "permutation", "mcnemar", "mde", "mde_method", "sd", "a_complete", "b_complete"}.
    ``p_value`` is McNemar's (``test`` = "mcnemar") for accuracy-type metrics when every question is its own
    cluster, else the paired permutation test's (``test`` = "paired_permutation"); ``permutation`` always
    holds the permutation result. ``mde`` is ``bootstrap_mde`` for every metric. ``a_complete`` /
    ``b_complete`` repeat each cell's ``completeness["complete"]`` (None when the cell has none): a caller
    must not headline a comparison with an incomplete cell.
    """
    a_rows, b_rows = a_scores.get("per_example") or [], b_scores.get("per_example") or []
    factory = metric_factory(task.metric)
    boot = paired_bootstrap(a_rows, b_rows, factory, n_resamples, seed)
    perm = paired_permutation(a_rows, b_rows, factory, n_resamples, seed)
    out = {"metric_id": task.metric, **{k: boot[k] for k in ("n", "n_clusters", "diff", "ci_lo", "ci_hi", "sd")},
           "p_value": perm["p_value"], "test": "paired_permutation", "permutation": perm, "mcnemar": None,
           "mde": boot["mde"] if boot["n"] else None, "mde_method": "paired_cluster_bootstrap_sd",
           "a_complete": (a_scores.get("completeness") or {}).get("complete"),
           "b_complete": (b_scores.get("completeness") or {}).get("complete")}
    if task.metric in ACCURACY_TYPE and boot["n"] and boot["n_clusters"] == boot["n"]:
        a_j, b_j = _join(scored(a_rows), scored(b_rows))
        test = mcnemar([r["correct"] >= 1 for r in a_j], [r["correct"] >= 1 for r in b_j])
        out.update(mcnemar=test, p_value=test["p_value"], test="mcnemar")
    return out
