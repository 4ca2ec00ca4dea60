import numpy as np
import pytest

from baseweight_assets.curves.fit import fit_learning_curve, predict

NS = [50, 100, 250, 500, 1000]


def test_log_linear_recovers_known_parameters_with_zero_residuals():
    values = [0.21 + 0.06 * np.log(n) for n in NS]
    fit = fit_learning_curve(NS, values)
    assert fit["form"] == "log_linear" and not fit["weighted"]
    assert fit["params"]["a"] == pytest.approx(0.21, abs=1e-9) and fit["params"]["b"] == pytest.approx(0.06, abs=1e-9)
    assert fit["residuals"] == pytest.approx([0.0] * 5, abs=1e-12)
    assert fit["r2"] == pytest.approx(1.0) and fit["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert fit["line"]["n"][0] == pytest.approx(50) and fit["line"]["n"][-1] == pytest.approx(1000)
    assert fit["line"]["value"][-1] == pytest.approx(0.21 + 0.06 * np.log(1000))
    assert "underdetermined" in fit["why"] or "not lower" in fit["why"]


def test_weighted_fit_matches_numpy_weighted_least_squares_and_its_residuals():
    values = [0.30, 0.37, 0.41, 0.47, 0.49]
    lo = [0.20, 0.33, 0.38, 0.45, 0.46]
    hi = [0.40, 0.41, 0.44, 0.49, 0.52]
    fit = fit_learning_curve(NS, values, lo, hi)
    se = (np.array(hi) - np.array(lo)) / (2 * 1.959963984540054)
    b, a = np.polyfit(np.log(NS), values, 1, w=1 / se)  # polyfit's w multiplies residuals: 1/sigma
    assert fit["weighted"] and fit["params"]["a"] == pytest.approx(a) and fit["params"]["b"] == pytest.approx(b)
    assert fit["residuals"] == pytest.approx(list(np.array(values) - (a + b * np.log(NS))))
    chi2 = np.sum((np.array(fit["residuals"]) / se) ** 2)
    assert fit["chi2_per_dof"] == pytest.approx(chi2 / 3) and fit["dof"] == 3


def test_a_point_with_a_wide_interval_barely_moves_the_fit():
    values = [0.21 + 0.06 * np.log(n) for n in NS]
    values[0] += 0.15  # an outlier at N=50 ...
    narrow = fit_learning_curve(NS, values, [v - 0.02 for v in values], [v + 0.02 for v in values])
    lo = [v - 0.02 for v in values]
    hi = [v + 0.02 for v in values]
    lo[0], hi[0] = values[0] - 0.8, values[0] + 0.8  # ... measured with a very wide CI
    wide = fit_learning_curve(NS, values, lo, hi)
    assert abs(wide["params"]["b"] - 0.06) < 0.002 < abs(narrow["params"]["b"] - 0.06)


def test_power_law_is_used_only_with_enough_points_and_a_clearly_better_aicc():
    ns = [25, 50, 100, 250, 500, 1000]
    values = [0.9 - 2.0 * n**-0.5 for n in ns]
    fit = fit_learning_curve(ns, values)
    assert fit["form"] == "power_law" and "AICc" in fit["why"]
    assert fit["params"] == pytest.approx({"c": 0.9, "a": 2.0, "alpha": 0.5}, rel=1e-4)
    assert float(predict(fit, 10_000)) == pytest.approx(0.9 - 2.0 / 100, rel=1e-4)
    assert fit["candidates"]["log_linear"]["aicc"] > fit["candidates"]["power_law"]["aicc"] + 2
    four = fit_learning_curve(ns[:4], values[:4])
    assert four["form"] == "log_linear" and "needs at least 5" in four["candidates"]["power_law"]["skipped"]


def test_few_points_and_bad_input():
    assert fit_learning_curve([100], [0.5])["form"] is None
    two = fit_learning_curve([50, 100], [0.3, 0.4])
    assert two["dof"] == 0 and two["param_se"] == {"a": None, "b": None} and two["chi2_per_dof"] is None
    with pytest.raises(ValueError, match="distinct"):
        fit_learning_curve([50, 50], [0.3, 0.4])
    with pytest.raises(ValueError, match="positive"):
        fit_learning_curve([0, 50], [0.3, 0.4])
    with pytest.raises(ValueError, match="2 N values but 3"):
        fit_learning_curve([50, 100], [0.3, 0.4, 0.5])
    # a zero-width CI cannot be a weight: the fit falls back to unweighted
    assert not fit_learning_curve(NS[:3], [0.3, 0.4, 0.5], [0.3, 0.35, 0.45], [0.3, 0.45, 0.55])["weighted"]
