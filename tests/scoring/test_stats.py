from math import comb

import numpy as np
import pytest
from scipy import stats as sps

from baseweight_assets.scoring.stats import (
    bootstrap_ci, compare_cells, mcnemar, mean_correct, minimum_detectable_effect, paired_bootstrap,
)


def _rows(correct, prefix="q"):
    return [{"question_id": f"{prefix}{i}", "correct": float(c)} for i, c in enumerate(correct)]


def test_bootstrap_ci_brackets_mean_seeded_and_matches_normal_approx():
    rng = np.random.default_rng(1)
    rows = _rows(rng.random(2000) < 0.7)
    lo, hi = bootstrap_ci(mean_correct, rows, 2000, seed=3)
    assert (lo, hi) == bootstrap_ci(mean_correct, rows, 2000, seed=3)
    mean = np.mean([r["correct"] for r in rows])
    half = 1.96 * np.sqrt(mean * (1 - mean) / len(rows))
    assert lo < mean < hi
    assert lo == pytest.approx(mean - half, abs=0.006) and hi == pytest.approx(mean + half, abs=0.006)


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


def test_paired_bootstrap_uses_shared_ids_and_detects_differences():
    a = _rows([1] * 80 + [0] * 20)
    b = _rows([1] * 50 + [0] * 50) + [{"question_id": "extra", "correct": 1.0}]
    res = paired_bootstrap(a, b, n_resamples=1000, seed=0)
    assert res["n"] == 100 and res["diff"] == pytest.approx(0.3)
    assert res["ci_lo"] > 0 and res["p_value"] < 0.01
    same = paired_bootstrap(a, a, n_resamples=200, seed=0)
    assert same["diff"] == 0 and same["p_value"] == 1.0


def test_minimum_detectable_effect_formula():
    expected = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * np.sqrt(2 * 0.25 / 500)
    assert minimum_detectable_effect(500) == pytest.approx(expected)
    assert minimum_detectable_effect(2000) < minimum_detectable_effect(500)


class _Task:
    def __init__(self, metric):
        self.metric = metric


def test_compare_cells_accuracy_uses_mcnemar_and_f1_uses_bootstrap():
    a = {"per_example": _rows([1] * 30 + [0] * 10)}
    b = {"per_example": _rows([1] * 20 + [0] * 20)}
    res = compare_cells(_Task("accuracy"), a, b, n_resamples=300, seed=0)
    assert res["test"] == "mcnemar" and res["n"] == 40 and res["diff"] == pytest.approx(0.25)
    assert res["p_value"] == res["mcnemar"]["p_value"]
    for rows, cell in ((a, [1] * 30 + [0] * 10), (b, [1] * 20 + [0] * 20)):
        for r, c in zip(rows["per_example"], cell):
            r.update(gold="x" if r["question_id"] < "q2" else "y", parsed="x" if c else "y")
    res = compare_cells(_Task("macro_f1"), a, b, n_resamples=300, seed=0)
    assert res["test"] == "paired_bootstrap" and res["ci_lo"] <= res["diff"] <= res["ci_hi"]
