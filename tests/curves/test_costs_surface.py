import numpy as np
import pytest

from baseweight_assets.cost.break_even import break_even_volume
from baseweight_assets.cost.pricing import DAYS_PER_YEAR, HOURS_PER_YEAR
from baseweight_assets.cost.tco import api_tco, self_hosted_tco
from baseweight_assets.curves.costs import gpu_hours_at, reaching_cost
from baseweight_assets.curves.surface import break_even_surface

RATES = {"low": 2.0, "mid": 4.0, "high": 6.0}


def test_reaching_cost_by_hand():
    got = reaching_cost(300, ns=[100, 500], gpu_hours=[0.2, 1.0], label_cost_per_example=0.5,
                        training_rates=RATES, trainings_per_year=4)
    assert got["labelling_usd"] == pytest.approx(150.0)
    assert got["gpu_hours"] == pytest.approx(0.6)  # linear in N between the records
    assert got["training_once_usd"]["mid"] == pytest.approx(2.4)
    assert got["training_per_year_usd"]["high"] == pytest.approx(0.6 * 6.0 * 4)
    assert got["fixed_per_year_usd"]["low"] == pytest.approx(150.0 + 0.6 * 2.0 * 4) and got["missing"] == []


def test_reaching_cost_says_what_it_left_out():
    assert gpu_hours_at(2000, [100, 500], [0.2, 1.0]) is None  # no extrapolation
    assert gpu_hours_at(300, [100, 500, 1000], [0.2, None, 2.0]) == pytest.approx(0.2 + 200 / 900 * 1.8)
    got = reaching_cost(2000, ns=[100, 500], gpu_hours=[0.2, 1.0], label_cost_per_example=None,
                        training_rates=RATES, trainings_per_year=1)
    assert got["fixed_per_year_usd"] == {"low": 0.0, "mid": 0.0, "high": 0.0}
    assert len(got["missing"]) == 2 and "N=2000" in got["missing"][1]


def _surface(ns, volumes, n_star, fixed, api_cpq=0.001, qps=5.0, util=0.6):
    return break_even_surface(ns, volumes, n_star=n_star, fixed_per_year={s: fixed for s in RATES},
                              api_cost_per_query=api_cpq, serving_qps=qps, serving_rates=RATES,
                              utilisation_target=util)


def test_surface_boundary_is_the_closed_form_break_even():
    # one GPU serves 5 q/s * 86400 * 0.6 = 259,200 queries/day; at mid, T + one GPU-year costs the API's
    # 365 * 0.001 * V at V = (T + 4 * 8760) / 0.365, inside the first GPU step
    ns, fixed = [100, 250, 500], [1_000.0, 2_000.0, 3_000.0]
    closed = (2_000.0 + 4.0 * HOURS_PER_YEAR) / (DAYS_PER_YEAR * 0.001)
    assert closed < 259_200
    surface = _surface(ns, [closed * 0.999, closed * 1.001], n_star=180.0, fixed=fixed)
    assert surface["states"]["mid"][0] == ["inferior", "inferior"]  # N=100 < N*
    assert surface["states"]["mid"][1] == ["noninferior_not_cheaper", "cheaper_and_noninferior"]
    edge = surface["boundary"]["mid"]
    assert [e["n"] for e in edge] == [250, 500]
    assert edge[0]["daily_volume"] == pytest.approx(closed)
    assert edge[0] == {"n": 250} | break_even_volume(0.001, 5.0, 4.0, 0.6, 2_000.0)
    assert surface["corner"]["mid"] == edge[0]
    # a higher GPU price needs more volume
    assert surface["corner"]["high"]["daily_volume"] > closed > surface["corner"]["low"]["daily_volume"]


def test_surface_states_agree_with_the_boundary_across_gpu_steps():
    # large fixed cost: self-hosting only wins after several GPUs; states on a fine grid must match the
    # closed form's first crossing and 'always cheaper above'
    volumes = list(np.linspace(1_000, 3_000_000, 3_000))
    surface = _surface([500], volumes, n_star=500, fixed=[150_000.0])
    for s, rate in RATES.items():
        edge = surface["boundary"][s][0]
        cheaper = [st == "cheaper_and_noninferior" for st in surface["states"][s][0]]
        direct = [self_hosted_tco(v, 5.0, rate, 0.6, 150_000.0)["total"] < api_tco(v, 0.001)["total"]
                  for v in volumes]
        assert cheaper == direct
        assert not any(c for v, c in zip(volumes, cheaper) if v < edge["daily_volume"])
        assert all(c for v, c in zip(volumes, cheaper) if v > edge["always_cheaper_above"])


def test_surface_when_never_cheaper_or_never_noninferior():
    never = _surface([500], [1e3, 1e6], n_star=100, fixed=[0.0], api_cpq=1e-6)  # API far cheaper per query
    assert never["corner"]["mid"]["daily_volume"] is None and never["corner"]["mid"]["reason"].startswith("never")
    assert never["states"]["mid"] == [["noninferior_not_cheaper", "noninferior_not_cheaper"]]
    inferior = _surface([100, 500], [1e3, 1e6], n_star=None, fixed=[0.0, 0.0])
    assert inferior["corner"] == {"low": None, "mid": None, "high": None}
    assert {st for row in inferior["states"]["mid"] for st in row} == {"inferior"}
