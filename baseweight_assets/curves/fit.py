"""The learning curve: metric vs number of labelled examples N, fitted by weighted least squares.

Form. The default is log-linear, ``m = a + b ln N``: two parameters, so 3-6 measured points leave 1-4
degrees of freedom and the fit is stable; over one to two decades of N learning curves are close to linear
in ln N. The saturating power law ``m = c - a N^-alpha`` (Zhang et al. 2024: fine-tuning quality follows a
power law in data size) has three parameters and is underdetermined with few points: it is fitted only with
at least 5 points, and becomes the reported form only when its AICc is lower than the log-linear one's by
more than 2 (the small-sample correction charges a third parameter 24 AICc units at 5 points, 12 at 6).
N* does not depend on the form (``noninferiority`` interpolates the measured points in ln N); the fit
describes the curve and its residuals show where a form fails.

Weights. Each point's standard error is its CI width / (2 z); when every point has a CI of positive width the
fit weights points by 1 / se^2, so a point measured under more seeds or with less example noise counts more
(``scipy.optimize.curve_fit`` with ``sigma``, ``absolute_sigma=True``). The points share test questions, so
their errors are positively correlated: the weighted estimates stay unbiased, but ``param_se`` and
``chi2_per_dof`` treat the points as independent and are indicative only.

Goodness of fit: residuals (measured - fitted), ``r2`` (weighted when weighted), ``rmse`` in metric units,
and ``chi2_per_dof`` (weighted only): about 1 when residuals are the size the CIs predict, well above 1 when
the form misses the points.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

AICC_MARGIN = 2.0
MIN_POINTS_POWER_LAW = 5
LINE_POINTS = 40


def log_linear(n, a, b):
    return a + b * np.log(n)


def power_law(n, c, a, alpha):
    return c - a * np.power(n, -alpha)


FORMS = {
    "log_linear": {"fn": log_linear, "params": ("a", "b"), "formula": "m = a + b ln N"},
    "power_law": {"fn": power_law, "params": ("c", "a", "alpha"), "formula": "m = c - a N^-alpha"},
}


def _sigmas(ci_lo, ci_hi, n_points: int, confidence: float) -> np.ndarray | None:
    if ci_lo is None or ci_hi is None:
        return None
    if len(ci_lo) != n_points or len(ci_hi) != n_points:
        raise ValueError(f"fit: {n_points} points but {len(ci_lo)} lower and {len(ci_hi)} upper CI bounds")
    from scipy import stats as sps  # on first use: scipy costs ~0.5 s of every Dagster run's import

    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    lo = np.array([np.nan if v is None else v for v in ci_lo], dtype=float)
    hi = np.array([np.nan if v is None else v for v in ci_hi], dtype=float)
    sigma = (hi - lo) / (2 * z)
    return sigma if np.all(np.isfinite(sigma)) and np.all(sigma > 0) else None


def _p0(form: str, x: np.ndarray, y: np.ndarray) -> list[float]:
    if form == "log_linear":
        return [float(y.mean()), 0.0]
    top = float(y.max()) + 0.05 * (float(y.max() - y.min()) or 1.0)
    return [top, max(top - float(y[np.argmin(x)]), 1e-6) * float(x.min()) ** 0.5, 0.5]


def _fit_form(form: str, x: np.ndarray, y: np.ndarray, sigma: np.ndarray | None) -> dict:
    from scipy import optimize

    spec = FORMS[form]
    bounds = (-np.inf, np.inf) if form == "log_linear" else ([-np.inf, 0.0, 1e-3], [np.inf, np.inf, 5.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimize.OptimizeWarning)  # no dof left: covariance is inf, reported None
        params, cov = optimize.curve_fit(spec["fn"], x, y, p0=_p0(form, x, y), sigma=sigma,
                                         absolute_sigma=sigma is not None, bounds=bounds, maxfev=20000)
    fitted = spec["fn"](x, *params)
    resid = y - fitted
    w = np.ones_like(y) if sigma is None else 1 / sigma**2
    ss_tot = float(np.sum(w * (y - np.average(y, weights=w)) ** 2))
    chi2 = float(np.sum(w * resid**2))
    n, p = len(x), len(params)
    dof = n - p
    aicc = None
    if n - p - 1 > 0:
        aicc = n * math.log(max(chi2 / n, 1e-300)) + 2 * p + 2 * p * (p + 1) / (n - p - 1)
    se = np.sqrt(np.diag(cov)) if dof > 0 else np.full(p, np.inf)
    return {"form": form, "formula": spec["formula"],
            "params": {k: float(v) for k, v in zip(spec["params"], params)},
            "param_se": {k: (float(s) if np.isfinite(s) else None) for k, s in zip(spec["params"], se)},
            "fitted": [float(v) for v in fitted], "residuals": [float(v) for v in resid],
            "r2": 1 - chi2 / ss_tot if ss_tot > 0 else None,
            "rmse": float(np.sqrt(np.mean(resid**2))),
            "chi2_per_dof": chi2 / dof if sigma is not None and dof > 0 else None,
            "dof": dof, "aicc": aicc}


def predict(fit: dict, n) -> np.ndarray:
    """The fitted curve at ``n`` (scalar or array)."""
    return FORMS[fit["form"]]["fn"](np.asarray(n, dtype=float), *fit["params"].values())


def fit_learning_curve(ns: Sequence[float], values: Sequence[float], ci_lo: Sequence[float] | None = None,
                       ci_hi: Sequence[float] | None = None, confidence: float = 0.95) -> dict:
    """Fit metric vs N (module docstring for the form and the weights).

    -> {"form", "formula", "params", "param_se", "weighted", "why", "fitted", "residuals", "r2", "rmse",
        "chi2_per_dof", "dof", "aicc", "line": {"n": [...], "value": [...]} (the curve at 40 log-spaced N over the
        measured range, for drawing), "candidates": {"log_linear": {...}, "power_law": {...} | {"skipped": why}}}
    Fewer than 2 points: {"form": None, "why": <reason>}.
    """
    x, y = np.asarray(ns, dtype=float), np.asarray(values, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"fit: {len(x)} N values but {len(y)} metric values")
    if np.any(~np.isfinite(x)) or np.any(x <= 0) or len(set(x.tolist())) != len(x):
        raise ValueError(f"fit: N values must be positive, finite and distinct, got {list(ns)}")
    if np.any(~np.isfinite(y)):
        raise ValueError(f"fit: metric values must be finite, got {list(values)}")
    if len(x) < 2:
        return {"form": None, "why": f"{len(x)} point(s): a curve needs at least 2"}
    sigma = _sigmas(ci_lo, ci_hi, len(x), confidence)
    candidates = {"log_linear": _fit_form("log_linear", x, y, sigma)}
    chosen = "log_linear"
    why = "log-linear m = a + b ln N: two parameters, stable with few points; "
    if len(x) < MIN_POINTS_POWER_LAW:
        candidates["power_law"] = {"skipped": f"{len(x)} points: the 3-parameter power law needs at least "
                                              f"{MIN_POINTS_POWER_LAW}"}
        why += f"the saturating power law is underdetermined with {len(x)} points"
    else:
        try:
            candidates["power_law"] = _fit_form("power_law", x, y, sigma)
        except (RuntimeError, ValueError) as exc:
            candidates["power_law"] = {"skipped": f"power-law fit did not converge: {exc}"}
            why += "the power-law fit did not converge"
        else:
            a_ll, a_pl = candidates["log_linear"]["aicc"], candidates["power_law"]["aicc"]
            if a_pl < a_ll - AICC_MARGIN:
                chosen = "power_law"
                why = (f"saturating power law m = c - a N^-alpha: its AICc {a_pl:.1f} is lower than the "
                       f"log-linear fit's {a_ll:.1f} by more than {AICC_MARGIN:g}")
            else:
                why += f"the power law's AICc ({a_pl:.1f}) is not lower than log-linear's ({a_ll:.1f}) by {AICC_MARGIN:g}"
    best = candidates[chosen]
    grid = np.exp(np.linspace(math.log(x.min()), math.log(x.max()), LINE_POINTS))
    return dict(best) | {"weighted": sigma is not None, "why": why, "candidates": candidates,
                         "line": {"n": [float(v) for v in grid], "value": [float(v) for v in predict(best, grid)]}}
