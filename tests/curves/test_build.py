import json
import math

import numpy as np
import pytest

from baseweight_assets.cost.break_even import break_even_volume
from baseweight_assets.curves.build import CURVES_VERSION, build_curve

NS = [50, 100, 250, 500, 1000]
VOLUMES = [round(10 ** (2 + i / 8)) for i in range(41)]
COSTS = {"label_cost_per_example": 0.5, "label_cost_source": "assumption for the test",
         "training_hourly_rates": {"low": 3.0, "mid": 4.0, "high": 5.0},
         "serving_hourly_rates": {"low": 2.0, "mid": 3.0, "high": 6.0},
         "serving_qps": 20.0, "utilisation_target": 0.6, "trainings_per_year": 4}


def _rows(values, n_extra=0):
    rows = [{"question_id": f"q{i:04d}", "correct": float(v)} for i, v in enumerate(values)]
    return rows + [{"question_id": f"extra{i}", "correct": 1.0} for i in range(n_extra)]


def _inputs(seed=0, n=300):
    """Exact data: every LoRA row = best API row + delta(N), delta(N) = -0.1 + 0.04 ln(N/50), so N* = 50 e^2."""
    api = np.random.default_rng(seed).random(n) * 0.8
    points = [{"n": N, "variant": f"m__lora-{N}", "gpu_hours": [0.001 * N, 0.001 * N],
               "per_seed": [_rows(api + (-0.1 + 0.04 * math.log(N / 50)))] * 2} for N in NS]
    points.append({"n": 5000, "variant": "m__lora-5000", "status": "skipped", "reason": "N=5000 needs 5000 rows"})
    apis = {"mini__5-shot": {"per_example": _rows(api, n_extra=3), "display_name": "GPT-5.4 Mini",
                             "cost_per_query": 0.0004},
            "nano__5-shot": {"per_example": _rows(api - 0.3), "display_name": "GPT-5.4 Nano",
                             "cost_per_query": 0.0001, "stand_in": True}}
    return points, apis, float(api.mean())


def test_build_curve_on_exact_data_gives_the_known_answers():
    points, apis, api_mean = _inputs()
    curve = build_curve("accuracy", points, apis, COSTS,
                        {"margin": 0.02, "volumes": VOLUMES, "n_resamples": 200, "model_name": "Qwen3-8B"})
    json.dumps(curve, allow_nan=False)
    assert curve["curves_version"] == CURVES_VERSION == 1 and curve["status"] == "ok"
    assert curve["n_questions"] == 300 and curve["n_dropped_questions"] == {"mini__5-shot": 3}
    assert curve["skipped"] == [{"n": 5000, "variant": "m__lora-5000", "reason": "N=5000 needs 5000 rows"}]
    assert [p["n"] for p in curve["points"]] == NS and curve["points"][0]["gpu_hours"] == pytest.approx(0.05)
    assert curve["best_api"] == "mini__5-shot"
    assert curve["points"][0]["metric"] == pytest.approx(api_mean - 0.1)
    # two identical seeds: no seed variance
    assert curve["points"][0]["variance"]["seeds"] == pytest.approx(0.0, abs=1e-15)
    # the fit is exact: m = (api_mean - 0.1 - 0.04 ln 50) + 0.04 ln N
    assert curve["fit"]["params"]["b"] == pytest.approx(0.04)
    assert curve["fit"]["params"]["a"] == pytest.approx(api_mean - 0.1 - 0.04 * math.log(50))
    assert curve["fit"]["residuals"] == pytest.approx([0.0] * 5, abs=1e-9)
    star = curve["n_star"]
    assert star["value"] == pytest.approx(50 * math.e**2, rel=1e-6)
    assert star["ci_lo"] == pytest.approx(star["value"], rel=1e-6) and star["ci_hi"] == pytest.approx(star["value"], rel=1e-6)
    # the weaker API is matched from the smallest N on
    assert curve["noninferiority"]["nano__5-shot"]["n_star"]["censored"] == "left"
    # costs at N* = 370 labelled examples, GPU-hours interpolated between 250 and 500
    at = curve["costs"]["at_n_star"]
    assert at["n"] == 370 and at["labelling_usd"] == pytest.approx(185.0) and at["gpu_hours"] == pytest.approx(0.37)
    fixed_mid = 185.0 + 0.37 * 4.0 * 4
    assert at["fixed_per_year_usd"]["mid"] == pytest.approx(fixed_mid)
    surface = curve["surface"]
    assert surface["n"] == [50, 100, 250, 370, 500, 1000]
    assert surface["states"]["mid"][2] == ["inferior"] * len(VOLUMES)
    corner = surface["corner"]["mid"]
    assert corner["n"] == 370
    assert corner["daily_volume"] == pytest.approx(break_even_volume(0.0004, 20.0, 3.0, 0.6, fixed_mid)["daily_volume"])
    assert curve["verdict"].startswith("With ≥ 370 labelled examples (95 % CI 369 to 370), a fine-tuned Qwen3-8B "
                                       "matches GPT-5.4 Mini (within 0.02) and costs less over 12 months from ")


def test_seeds_and_flags_reach_the_verdict():
    points, apis, _ = _inputs()
    for p in points[:5]:
        p["per_seed"] = p["per_seed"][:1]
    curve = build_curve("accuracy", points, {"nano__5-shot": apis["nano__5-shot"]}, COSTS,
                        {"margin": 0.02, "volumes": VOLUMES, "n_resamples": 100, "model_name": "SmolLM2-135M",
                         "smoke": True})
    assert curve["verdict"].startswith("Smoke run (a plumbing check, not a result): with at most 50 labelled")
    assert "GPT-5.4 Nano answered by a local stand-in; one training seed" in curve["verdict"]


def test_missing_costs_leave_the_surface_out_with_a_reason():
    points, apis, _ = _inputs()
    curve = build_curve("accuracy", points, apis, COSTS | {"serving_qps": None}, {"margin": 0.02, "n_resamples": 100})
    assert curve["surface"] is None and "serving_qps" in curve["surface_reason"] and "volumes" in curve["surface_reason"]
    assert "its 12-month cost was not compared" in curve["verdict"]


def test_no_curve_without_points_or_api():
    points, apis, _ = _inputs()
    none = build_curve("accuracy", points, {}, COSTS, {"margin": 0.02, "volumes": VOLUMES})
    assert none["status"] == "no_curve" and none["verdict"] == "No data-efficiency verdict: no API cell to compare against."
    none = build_curve("accuracy", points[-1:], apis, COSTS, {"margin": 0.02, "volumes": VOLUMES})
    assert none["reason"] == "no measured LoRA point" and none["skipped"][0]["n"] == 5000
    json.dumps(none, allow_nan=False)


def test_bad_input_is_named():
    points, apis, _ = _inputs()
    with pytest.raises(ValueError, match="margin"):
        build_curve("accuracy", points, apis, COSTS, {"volumes": VOLUMES})
    with pytest.raises(ValueError, match="two points have N=50"):
        build_curve("accuracy", points + points[:1], apis, COSTS, {"margin": 0.02})
    with pytest.raises(ValueError, match="m__lora-50 \\(training seed 1\\): question_id 'q0000' appears twice"):
        bad = [dict(points[0], per_seed=[points[0]["per_seed"][0], points[0]["per_seed"][0] * 2])] + points[1:]
        build_curve("accuracy", bad, apis, COSTS, {"margin": 0.02})
