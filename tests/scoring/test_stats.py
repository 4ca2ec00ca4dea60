import itertools
from math import comb

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import f1_score

from baseweight_assets.scoring.classification import f1_metric
from baseweight_assets.scoring.stats import (
    ClusterSampler, bootstrap_ci, bootstrap_mde, compare_cells, holm, mcnemar, mean_correct, paired_bootstrap,
    paired_permutation,
)

Z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)


def _rows(correct, prefix="q", cluster_size=None):
    rows = [{"question_id": f"{prefix}{i}", "correct": float(c)} for i, c in enumerate(correct)]
    if cluster_size:
        for i, r in enumerate(rows):
            r["cluster"] = f"c{i // cluster_size}"
    return rows


def test_bootstrap_ci_brackets_mean_seeded_and_matches_normal_approx():
    rng = np.random.default_rng(1)
    rows = _rows(rng.random(2000) < 0.7)
    lo, hi = bootstrap_ci(mean_correct, rows, 2000, seed=3)
    assert (lo, hi) == bootstrap_ci(mean_correct, rows, 2000, seed=3)
    mean = np.mean([r["correct"] for r in rows])
    half = 1.96 * np.sqrt(mean * (1 - mean) / len(rows))
    assert lo < mean < hi
    assert lo == pytest.approx(mean - half, abs=0.006) and hi == pytest.approx(mean + half, abs=0.006)


def test_cluster_bootstrap_widens_the_ci_to_the_clustered_standard_error():
    # 60 contracts x 10 questions; a contract's questions are all right or all wrong (fully correlated)
    rng = np.random.default_rng(7)
    per_cluster = rng.random(60) < 0.5
    rows = _rows(np.repeat(per_cluster, 10), cluster_size=10)
    p = per_cluster.mean()
    lo, hi = bootstrap_ci(mean_correct, rows, 4000, seed=0)
    clustered_half = 1.96 * np.sqrt(p * (1 - p) / 60)  # the effective sample is 60 contracts, not 600 questions
    assert (hi - lo) / 2 == pytest.approx(clustered_half, rel=0.15)
    naive = [{k: v for k, v in r.items() if k != "cluster"} for r in rows]
    lo_n, hi_n = bootstrap_ci(mean_correct, naive, 4000, seed=0)
    assert (hi_n - lo_n) / 2 == pytest.approx(1.96 * np.sqrt(p * (1 - p) / 600), rel=0.15)
    assert hi - lo > 2.5 * (hi_n - lo_n)


def test_cluster_sampler_draws_whole_clusters_and_reduces_to_questions_without_clusters():
    rows = _rows([0] * 9)
    assert ClusterSampler(rows).draw(np.random.default_rng(5)).tolist() == \
        np.random.default_rng(5).integers(0, 9, size=9).tolist()
    rows = [{"question_id": f"q{i}", "cluster": c} for i, c in enumerate("aabbbcadd")]  # a: 0,1,6  b: 2,3,4
    sampler = ClusterSampler(rows)
    assert sampler.n_clusters == 4 and sampler.sizes.tolist() == [3, 3, 1, 2]
    rng = np.random.default_rng(0)
    members = {"a": {0, 1, 6}, "b": {2, 3, 4}, "c": {5}, "d": {7, 8}}
    for _ in range(50):
        idx = sampler.draw(rng)
        counts = np.bincount(idx, minlength=9)
        for m in members.values():  # every member of a cluster is drawn as often as the cluster
            assert len({counts[i] for i in m}) == 1


def _enumerate_permutation_p(a, b, clusters, metric):
    """Independent reference: all 2^G cluster swaps, two-sided p = 2 * min(P(d* <= d), P(d* >= d))."""
    labels = sorted(set(clusters), key=clusters.index)
    a, b = list(a), list(b)
    observed = metric(a) - metric(b)
    null = []
    for swaps in itertools.product([False, True], repeat=len(labels)):
        swapped = {lab for lab, s in zip(labels, swaps) if s}
        x = [bv if c in swapped else av for av, bv, c in zip(a, b, clusters)]
        y = [av if c in swapped else bv for av, bv, c in zip(a, b, clusters)]
        null.append(metric(x) - metric(y))
    null = np.array(null)
    eps = 1e-12
    return min(1.0, 2 * min(np.mean(null <= observed + eps), np.mean(null >= observed - eps)))


def test_paired_permutation_hand_computed_exact():
    a = _rows([1] * 7 + [0] * 3, cluster_size=2)
    b = _rows([1] * 3 + [0] * 7, cluster_size=2)
    res = paired_permutation(a, b, n_resamples=1000)
    # cluster sums of a-b: 0, 1, 2, 1, 0 -> null of s1 + 2 s2 + s3 is {4,2,0,-2,2,0,-2,-4}/10; P(>= 0.4) = 1/8
    assert res["exact"] and res["n_resamples"] == 32 and res["n_clusters"] == 5
    assert res["diff"] == pytest.approx(0.4) and res["p_value"] == pytest.approx(0.25)


def test_paired_permutation_matches_full_enumeration_for_mean_and_macro_f1():
    rng = np.random.default_rng(3)
    n, clusters = 24, [f"c{i % 8}" for i in range(24)]
    gold = rng.choice(["x", "y", "z"], size=n)
    pa = np.where(rng.random(n) < 0.7, gold, rng.choice(["x", "y", "z"], size=n))
    pb = np.where(rng.random(n) < 0.4, gold, rng.choice(["x", "y", "z"], size=n))

    def rows(pred):
        return [{"question_id": f"q{i}", "cluster": clusters[i], "gold": str(g), "parsed": str(p),
                 "correct": float(g == p)} for i, (g, p) in enumerate(zip(gold, pred))]

    def macro(preds):
        return f1_score(gold, preds, labels=sorted(set(gold)), average="macro", zero_division=0)

    res = paired_permutation(rows(pa), rows(pb), f1_metric("macro"), n_resamples=1000)
    assert res["exact"] and res["p_value"] == pytest.approx(_enumerate_permutation_p(pa, pb, clusters, macro))
    res = paired_permutation(rows(pa), rows(pb), mean_correct, n_resamples=1000)
    accuracy = lambda preds: float(np.mean(np.array(preds) == gold))  # noqa: E731
    assert res["p_value"] == pytest.approx(_enumerate_permutation_p(pa, pb, clusters, accuracy))


def test_paired_permutation_randomised_is_seeded_and_centred_on_the_null():
    rng = np.random.default_rng(11)
    same = _rows(rng.random(300) < 0.6)
    res = paired_permutation(same, same, n_resamples=500, seed=1)
    assert res["p_value"] == 1.0 and not res["exact"] and res["n_resamples"] == 500
    a, b = _rows(rng.random(300) < 0.8), _rows(rng.random(300) < 0.5)
    r1, r2 = paired_permutation(a, b, n_resamples=999, seed=4), paired_permutation(a, b, n_resamples=999, seed=4)
    assert r1 == r2 and r1["p_value"] == pytest.approx(2 / 1000)  # add-one: no swap reaches a 0.3 gap
    # under the null (two noisy copies of one system) p-values are not piled near 0
    ps = [paired_permutation(_rows(rng.random(60) < 0.6), _rows(rng.random(60) < 0.6), n_resamples=199,
                             seed=k)["p_value"] for k in range(40)]
    assert np.mean(np.array(ps) < 0.05) <= 0.2 and 0.3 <= np.mean(ps) <= 0.7


def test_mcnemar_exact_and_chi2():
    a = [True] * 8 + [False] * 2 + [True] * 5
    b = [False] * 8 + [True] * 2 + [True] * 5
    res = mcnemar(a, b)
    expected = min(1.0, 2 * sum(comb(10, i) for i in range(0, 3)) / 2**10)
    assert (res["b"], res["c"], res["method"]) == (8, 2, "exact")
    assert res["p_value"] == pytest.approx(expected)
    a = [True] * 40 + [False] * 20
    b = [False] * 40 + [True] * 20
    res = mcnemar(a, b)
    chi2 = (abs(40 - 20) - 1) ** 2 / 60
    assert res["method"] == "chi2_cc" and res["p_value"] == pytest.approx(sps.chi2.sf(chi2, 1))


def test_holm_hand_computed():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.01, None, 0.5]) == [pytest.approx(0.02), None, pytest.approx(0.5)]
    assert holm([0.4, 0.3]) == pytest.approx([0.6, 0.6])  # capped monotone step-down
    assert holm([]) == [] and holm([0.9, 0.8, 0.7]) == pytest.approx([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="#1"):
        holm([0.1, 1.5])


def test_paired_bootstrap_uses_shared_ids_and_detects_differences():
    a = _rows([1] * 80 + [0] * 20)
    b = _rows([1] * 50 + [0] * 50) + [{"question_id": "extra", "correct": 1.0}]
    res = paired_bootstrap(a, b, n_resamples=1000, seed=0)
    assert res["n"] == 100 and res["diff"] == pytest.approx(0.3)
    assert res["ci_lo"] > 0
    same = paired_bootstrap(a, a, n_resamples=200, seed=0)
    assert same["diff"] == 0 and same["sd"] == 0 and same["mde"] == 0


def test_bootstrap_mde_is_the_sd_of_the_paired_difference_times_z():
    draws = np.array([0.1, 0.3, 0.2, 0.4])
    assert bootstrap_mde(draws) == pytest.approx(np.std(draws, ddof=1) * Z)
    assert np.isnan(bootstrap_mde(np.array([0.2])))
    # independent questions, accuracy: the bootstrap SD approaches sqrt(var(a_i - b_i) / n)
    rng = np.random.default_rng(2)
    a, b = rng.random(2000) < 0.7, rng.random(2000) < 0.6
    res = paired_bootstrap(_rows(a), _rows(b), n_resamples=2000, seed=1)
    d = a.astype(float) - b.astype(float)
    assert res["mde"] == pytest.approx(Z * np.std(d, ddof=1) / np.sqrt(2000), rel=0.08)


class _Task:
    def __init__(self, metric):
        self.metric = metric


def test_compare_cells_tests_and_keys():
    a = {"per_example": _rows([1] * 30 + [0] * 10), "completeness": {"complete": True}}
    b = {"per_example": _rows([1] * 20 + [0] * 20), "completeness": {"complete": False}}
    res = compare_cells(_Task("accuracy"), a, b, n_resamples=300, seed=0)
    assert {"metric_id", "n", "diff", "ci_lo", "ci_hi", "p_value", "test", "mcnemar", "mde"} <= set(res)
    assert res["test"] == "mcnemar" and res["n"] == 40 and res["diff"] == pytest.approx(0.25)
    assert res["p_value"] == res["mcnemar"]["p_value"] and res["permutation"]["p_value"] is not None
    assert res["mde_method"] == "paired_cluster_bootstrap_sd" and res["mde"] > 0
    assert (res["a_complete"], res["b_complete"]) == (True, False)
    # clustered accuracy: McNemar assumes independent pairs, so the permutation test decides
    ac = {"per_example": _rows([1] * 30 + [0] * 10, cluster_size=4)}
    bc = {"per_example": _rows([1] * 20 + [0] * 20, cluster_size=4)}
    res = compare_cells(_Task("accuracy"), ac, bc, n_resamples=300, seed=0)
    assert res["test"] == "paired_permutation" and res["n_clusters"] == 10 and res["mcnemar"] is None
    assert res["a_complete"] is None
    for rows, cell in ((a, [1] * 30 + [0] * 10), (b, [1] * 20 + [0] * 20)):
        for r, c in zip(rows["per_example"], cell):
            r.update(gold="x" if r["question_id"] < "q2" else "y", parsed="x" if c else "y")
    res = compare_cells(_Task("macro_f1"), a, b, n_resamples=300, seed=0)
    assert res["test"] == "paired_permutation" and res["ci_lo"] <= res["diff"] <= res["ci_hi"]
    assert res["p_value"] == res["permutation"]["p_value"]


def test_compare_cells_ignores_missing_entries():
    a = {"per_example": _rows([1, 1, 1, 0])}
    b = {"per_example": _rows([0, 0, 1, 0])}
    b["per_example"][0].update(category="missing", correct=None)
    res = compare_cells(_Task("accuracy"), a, b, n_resamples=100)
    assert res["n"] == 3 and res["diff"] == pytest.approx(2 / 3 - 1 / 3)
