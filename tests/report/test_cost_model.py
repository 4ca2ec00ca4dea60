"""Cost functions against hand-computed cases (figures worked out in the comments)."""

import pytest

from baseweight_assets.config.schema import ApiPrice, HardwareRate, PricingConfig
from baseweight_assets.cost.break_even import break_even_volume
from baseweight_assets.cost.per_query import (
    api_cost_per_query, correct_share, cost_per_1k_correct, queries_per_second, self_hosted_cost_per_query)
from baseweight_assets.cost.pricing import PricingError, api_price, hourly_rate, trainings_per_year
from baseweight_assets.cost.tco import api_tco, gpus_needed, self_hosted_tco

UNIT_CONSTANTS = {"0.0", "1.0", "3600.0", "1000.0"}  # seconds per hour, per-1k scaling
PRICE = ApiPrice(input_per_1m=0.75, output_per_1m=4.5, effective_from="2026-05", source="test")


def _pricing(**kw):
    base = dict(api={"m": PRICE}, batch_discount=0.5,
                hardware={"gpu": HardwareRate(low=1, mid=2, high=4, source="t", checked_at="t")},
                default_hardware="gpu", default_daily_volume=10000, utilisation_target=0.5)
    return PricingConfig(**(base | kw))


def test_api_cost_per_query_hand_computed():
    # 2,000,000 in x 0.75/1M = 1.50 ; 100,000 out x 4.5/1M = 0.45 ; total 1.95 over 1,000 queries
    assert api_cost_per_query(PRICE, 2_000_000, 100_000, 1000) == pytest.approx(0.00195)
    assert api_cost_per_query(PRICE, 2_000_000, 100_000, 1000, batch=True, batch_discount=0.5) == pytest.approx(
        0.000975)
    with pytest.raises(ValueError, match="n_queries"):
        api_cost_per_query(PRICE, 1, 1, 0)


def test_self_hosted_cost_per_query_and_windowed_throughput():
    # $3.6/h = $0.001/s ; 2 queries/s -> $0.0005 per query
    assert self_hosted_cost_per_query(2.0, 3.6) == pytest.approx(0.0005)
    # CUAD: 10 windows/s, 1200 windows for 100 questions -> 0.8333 questions/s
    assert queries_per_second(10.0, 1200, 100) == pytest.approx(100 / 120)
    assert queries_per_second(4.0, None, 7) == 4.0
    with pytest.raises(ValueError, match="throughput"):
        queries_per_second(0.0, 10, 10)


def test_correct_share_uses_category_not_f1():
    rows = [{"correct": 0.8, "category": "partial"}, {"correct": 1.0, "category": "correct"},
            {"correct": 1.0, "category": "correct"}, {"correct": 0.0, "category": "hallucinated"}]
    assert correct_share(rows) == 0.5
    assert correct_share([{"correct": 1.0}, {"correct": 0.99}]) == 0.5
    # MBPP counts passing programs and CUAD right abstentions: their categories are not literally "correct".
    assert correct_share([{"correct": 1.0, "category": "pass"}, {"correct": 0.0, "category": "wrong_answer"}]) == 0.5
    assert correct_share([{"correct": 1.0, "category": "not_applicable"}, {"correct": 0.0, "category": "missed"}]) == 0.5
    assert cost_per_1k_correct(0.002, 0.5) == pytest.approx(4.0)
    assert cost_per_1k_correct(0.002, 0.0) is None


def test_gpus_and_tco_hand_computed():
    # 1 q/s -> 86,400/day at 100%; at 50% utilisation one GPU serves 43,200/day
    assert gpus_needed(43_200, 1.0, 0.5) == 1
    assert gpus_needed(43_201, 1.0, 0.5) == 2
    assert gpus_needed(1, 1.0, 0.5) == 1  # always on
    t = self_hosted_tco(100_000, 1.0, 2.0, 0.5, training_per_year=40.0)
    # ceil(100000/43200) = 3 GPUs x $2 x 8760 h = 52,560 + 40 training
    assert t == {"gpus": 3, "training": 40.0, "serving": 52_560.0, "total": 52_600.0}
    assert api_tco(10_000, 0.001)["total"] == pytest.approx(3650.0)


def test_break_even_closed_form():
    # a = $0.001/query, C = 43,200/day per GPU, R = $2 x 8760 = 17,520/GPU-year, T = 0
    # step 1: API beats 17,520 when 365 x 0.001 x V > 17,520 -> V > 48,000 > C, so not in step 1.
    # step 2: 35,040 / 0.365 = 96,000 > 2C = 86,400, no; step k needs 17,520k/0.365 < 43,200k: never.
    r = break_even_volume(0.001, 1.0, 2.0, 0.5)
    assert r["daily_volume"] is None and "never" in r["reason"]
    # a = $0.002: crossing in step 1 at 17,520/0.73 = 24,000 (< 43,200)
    r = break_even_volume(0.002, 1.0, 2.0, 0.5)
    assert r["daily_volume"] == pytest.approx(24_000)
    # step k fully cheaper when 0.73 x 43,200 (k-1) >= 17,520 k -> 31,536(k-1) >= 17,520k -> k >= 2.25 -> k=3;
    # step 2 crosses at max(43,200, 35,040/0.73 = 48,000) = 48,000
    assert r["always_cheaper_above"] == pytest.approx(48_000)
    # training $7,300/yr moves the first crossing: (7,300 + 17,520)/0.73 = 34,000
    assert break_even_volume(0.002, 1.0, 2.0, 0.5, 7300)["daily_volume"] == pytest.approx(34_000)


def test_break_even_agrees_with_tco_functions():
    for a, qps, rate, u, t in [(0.002, 1.0, 2.0, 0.5, 0.0), (0.0004, 3.3, 1.1, 0.6, 900.0), (0.01, 0.2, 3.85, 0.6, 50)]:
        r = break_even_volume(a, qps, rate, u, t)
        v = r["daily_volume"]
        assert self_hosted_tco(v * 1.0001, qps, rate, u, t)["total"] < api_tco(v * 1.0001, a)["total"]
        assert self_hosted_tco(v * 0.999, qps, rate, u, t)["total"] >= api_tco(v * 0.999, a)["total"]
        above = r["always_cheaper_above"]
        for f in (1.0001, 1.3, 2, 5, 17, 100):
            assert self_hosted_tco(above * f, qps, rate, u, t)["total"] < api_tco(above * f, a)["total"]


def test_pricing_lookups_name_what_is_missing():
    p = _pricing()
    assert hourly_rate(p, "gpu", "high") == 4
    with pytest.raises(PricingError, match="'tpu'"):
        hourly_rate(p, "tpu", "mid")
    with pytest.raises(PricingError, match="scenario"):
        hourly_rate(p, "gpu", "extreme")
    with pytest.raises(PricingError, match="'gpt-9'"):
        api_price(p, "gpt-9")
    assert trainings_per_year(_pricing(retrain_every_months=3)) == 4
    assert trainings_per_year(_pricing(retrain_every_months=5)) == 3
    assert trainings_per_year(_pricing(retrain_every_months=0)) == 1


def test_repo_pricing_is_the_only_source():
    """No dollar constant in cost/ or report/ code: every rate must come from pricing.yaml."""
    import re
    from pathlib import Path
    import baseweight_assets
    root = Path(baseweight_assets.__file__).parent
    for path in [*root.glob("cost/*.py"), *root.glob("report/*.py")]:
        text = path.read_text()
        for hit in re.findall(r"\b\d+\.\d+\b", text):
            assert hit in UNIT_CONSTANTS, f"{path}: suspicious numeric constant {hit}"
