import math

import numpy as np
import pytest
from scipy import stats as sps

from baseweight_assets.curves.noninferiority import n_star, noninferiority_curve, sustained_crossing
from baseweight_assets.curves.seeds import joint_draws

NS = [50, 100, 250, 500, 1000]
MARGIN = 0.02


def _rows(values):
    return [{"question_id": f"q{i:04d}", "correct": float(v)} for i, v in enumerate(values)]


def test_sustained_crossing_interpolates_in_log_n_and_ignores_a_lucky_point():
    # crossing halfway in ln N between 100 and 400 -> N* = 200
    assert sustained_crossing([100, 400], [-0.04, 0.0], -0.02) == (pytest.approx(200.0), None)
    # 50 is above the threshold but 100 is not: N* comes from the last run of non-inferior points
    got, censored = sustained_crossing([50, 100, 400], [0.1, -0.04, 0.0], -0.02)
    assert got == pytest.approx(200.0) and censored is None
    assert sustained_crossing([50, 100], [0.0, 0.1], -0.02) == (pytest.approx(50.0), "left")
    assert sustained_crossing([50, 100], [0.0, -0.03], -0.02) == (None, "not_reached")
    assert sustained_crossing([50, 100], [-0.03, -0.02], -0.02) == (None, "not_reached")  # strictly above


def _exact_cells(rng, deltas, n=300):
    """LoRA rows = API rows + delta on every question: every bootstrap difference is exactly delta."""
    api = rng.random(n)
    cells = {f"lora-{N}": [_rows(api + d)] for N, d in zip(NS, deltas)}
    return cells | {"api": [_rows(api)]}


def test_n_star_equals_the_known_crossing_on_exact_data():
    # delta(N) = -0.1 + 0.04 ln(N/50) reaches -margin at ln(N/50) = 2: N* = 50 e^2
    deltas = [-0.1 + 0.04 * math.log(N / 50) for N in NS]
    _, draws = joint_draws(_exact_cells(np.random.default_rng(0), deltas), n_resamples=200)
    res = noninferiority_curve([(N, draws[f"lora-{N}"]) for N in NS], draws["api"], MARGIN)
    star = res["n_star"]
    assert star["value"] == pytest.approx(50 * math.e**2, rel=1e-6) and star["censored"] is None
    assert star["ci_lo"] == pytest.approx(star["value"], rel=1e-6) == star["ci_hi"]
    assert star["measured_n"] == 500 and star["noninferior"] == [False, False, False, True, True]
    assert [p["diff"] for p in res["per_point"]] == pytest.approx(deltas)
    assert res["against"] == "api" and star["share_not_reached"] == 0


def test_not_reached_when_the_curve_stays_below_the_margin():
    deltas = [-0.2, -0.15, -0.1, -0.08, -0.05]
    _, draws = joint_draws(_exact_cells(np.random.default_rng(1), deltas), n_resamples=100)
    star = noninferiority_curve([(N, draws[f"lora-{N}"]) for N in NS], draws["api"], MARGIN)["n_star"]
    assert star["value"] is None and not star["reached"] and star["measured_n"] is None
    assert star["ci_hi"] is None and star["ci_hi_censored"] == "not_reached" and star["share_not_reached"] == 1.0


def test_left_censored_when_the_smallest_n_already_matches():
    star = n_star(NS, [0.01] * 5, [0.0] * 5, np.zeros((50, 5)), MARGIN)
    assert star["value"] == 50 and star["censored"] == "left"
    assert star["ci_lo"] == 50 and star["ci_lo_censored"] == "left" and star["share_left_censored"] == 1.0


def test_replicates_that_never_reach_give_an_open_upper_bound():
    # half the replicates end below the threshold: the upper bound is "not reached", the share is reported
    draws = np.tile([-0.1, -0.05, 0.0], (100, 1))
    draws[:50, 2] = -0.05
    star = n_star([100, 200, 400], [-0.1, -0.05, 0.0], [-0.1, -0.05, 0.0], draws, MARGIN)
    assert star["value"] == pytest.approx(200 * 2 ** 0.6)  # -0.05 -> 0.0 crosses -0.02 at 60 % of ln 2
    assert star["share_not_reached"] == 0.5 and star["ci_hi"] is None and star["ci_lo"] == pytest.approx(star["value"])


def test_n_star_ci_covers_the_truth_in_repeated_simulations():
    # binary outcomes, LoRA accuracy 0.45 + 0.07 ln(N/50), API 0.55, independent given the question set;
    # the truth is the rule applied to the population lower bounds (difference - z * its standard error)
    n, p_api, reps = 300, 0.55, 100
    p_lora = [0.45 + 0.07 * math.log(N / 50) for N in NS]
    z = sps.norm.ppf(0.975)
    true_lo = [(p - p_api) - z * math.sqrt((p * (1 - p) + p_api * (1 - p_api)) / n) for p in p_lora]
    truth, _ = sustained_crossing(NS, true_lo, -MARGIN)
    assert 250 < truth < 1000
    covered = 0
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        cells = {f"lora-{N}": [_rows(rng.random(n) < p)] for N, p in zip(NS, p_lora)}
        cells["api"] = [_rows(rng.random(n) < p_api)]
        _, draws = joint_draws(cells, n_resamples=200, seed=rep)
        star = noninferiority_curve([(N, draws[f"lora-{N}"]) for N in NS], draws["api"], MARGIN)["n_star"]
        lo = star["ci_lo"] if star["ci_lo"] is not None else 0.0
        hi = star["ci_hi"] if star["ci_hi"] is not None else math.inf
        covered += lo <= truth <= hi
    assert covered >= 90


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="distinct and ascending"):
        n_star([100, 50], [0, 0], [0, 0], np.zeros((3, 2)), MARGIN)
    with pytest.raises(ValueError, match="draws of shape"):
        n_star([50, 100], [0, 0], [0, 0], np.zeros((3, 3)), MARGIN)
