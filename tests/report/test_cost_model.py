"""Cost functions against hand-computed cases (figures worked out in the comments)."""

import pytest

from baseweight_assets.config.schema import ApiPrice, HardwareRate, PricingConfig
from baseweight_assets.cost.break_even import break_even_volume
from baseweight_assets.cost.per_query import (
    api_cost_per_query, correct_share, cost_per_1k_correct, queries_per_second, self_hosted_cost_per_query)
from baseweight_assets.cost.pricing import (
    PricingError, api_price, cpu_hardware_key, hourly_rate, labelling_cost_usd, labelling_rate, trainings_per_year)
from baseweight_assets.cost.tco import api_tco, daily_capacity, gpus_needed, self_hosted_tco

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


def test_cached_input_tokens_are_charged_the_cached_price():
    cached_price = PRICE.model_copy(update={"cached_input_per_1m": 0.075})
    # 2,000,000 in of which 1,500,000 cached: 500,000 x 0.75/1M = 0.375 ; 1,500,000 x 0.075/1M = 0.1125 ;
    # 100,000 out x 4.5/1M = 0.45 ; total 0.9375 over 1,000 queries
    assert api_cost_per_query(cached_price, 2_000_000, 100_000, 1000,
                              cached_input_tokens=1_500_000) == pytest.approx(0.0009375)
    # Batch API: the discount applies to the whole (cached-aware) cost
    assert api_cost_per_query(cached_price, 2_000_000, 100_000, 1000, cached_input_tokens=1_500_000, batch=True,
                              batch_discount=0.5) == pytest.approx(0.00046875)
    # no cached price in the config: cached tokens fall back to the input price (the list-price figure)
    assert api_cost_per_query(PRICE, 2_000_000, 100_000, 1000, cached_input_tokens=1_500_000) == pytest.approx(
        0.00195)
    with pytest.raises(ValueError, match="cached_input_tokens=101"):
        api_cost_per_query(cached_price, 100, 10, 1, cached_input_tokens=101)


def test_self_hosted_cost_per_query_and_windowed_throughput():
    # $3.6/h = $0.001/s ; 2 queries/s at saturation -> $0.0005 per query; 2 devices serving 2 q/s together -> x2
    assert self_hosted_cost_per_query(2.0, 3.6) == pytest.approx(0.0005)
    assert self_hosted_cost_per_query(saturated_qps=2.0, hourly_rate=3.6, devices=2) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="saturated"):
        self_hosted_cost_per_query(0.0, 3.6)
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
    assert daily_capacity(1.0, 0.5) == 43_200
    with pytest.raises(ValueError, match="utilisation_target"):
        daily_capacity(1.0, 1.5)
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


CPU = HardwareRate(low=0.01, mid=0.02, high=0.04, source="t", checked_at="t")


def test_cpu_hosts_are_priced_per_vcpu():
    p = _pricing(cpu_per_vcpu=CPU)
    assert cpu_hardware_key(8) == "cpu-8core"
    # 8 vCPUs x $0.02 = $0.16/h ; 2 x $0.04 = $0.08/h
    assert hourly_rate(p, "cpu-8core", "mid") == pytest.approx(0.16)
    assert hourly_rate(p, "cpu-2core", "high") == pytest.approx(0.08)
    with pytest.raises(PricingError, match="cpu_per_vcpu"):
        hourly_rate(_pricing(), "cpu-2core", "mid")
    with pytest.raises(ValueError, match="at least one core"):
        cpu_hardware_key(0)
    assert _pricing(cpu_per_vcpu=CPU, default_hardware="cpu-4core").default_hardware == "cpu-4core"


def test_pricing_config_rejects_inconsistent_hardware():
    with pytest.raises(ValueError, match="priced by cpu_per_vcpu"):
        _pricing(cpu_per_vcpu=CPU, hardware={"cpu-4core": CPU, "gpu": CPU})
    with pytest.raises(ValueError, match="GPUs only"):
        _pricing(cpu_per_vcpu=CPU.model_copy(update={"device_names": ["Intel.*"]}))
    with pytest.raises(ValueError, match="default_hardware"):
        _pricing(default_hardware="cpu-4core")  # no cpu_per_vcpu to price it
    with pytest.raises(ValueError, match="not a valid regular expression"):
        HardwareRate(low=1, mid=1, high=1, source="t", checked_at="t", device_names=["NVIDIA (H100"])


def test_labelling_rate_falls_back_to_default():
    labelling = {"default": {"usd_per_example": 0.5, "source": "ASSUMPTION", "checked_at": "t"},
                 "tasks": {"cuad": {"usd_per_example": 95.65, "source": "paper", "checked_at": "t"}}}
    p = _pricing(labelling=labelling)
    assert labelling_rate(p, "cuad").usd_per_example == 95.65 and labelling_rate(p, "cuad").source == "paper"
    assert labelling_rate(p, "fpb").usd_per_example == 0.5
    # 500 CUAD questions x $95.65 = $47,825 ; 0 examples cost nothing
    assert labelling_cost_usd(p, "cuad", 500) == pytest.approx(47_825)
    assert labelling_cost_usd(p, "fpb", 0) == 0
    with pytest.raises(ValueError, match="n_examples"):
        labelling_cost_usd(p, "fpb", -1)
    with pytest.raises(PricingError, match="labelling"):
        labelling_rate(_pricing(), "fpb")
    with pytest.raises(ValueError, match="greater than 0"):
        _pricing(labelling={"default": {"usd_per_example": 0, "source": "s", "checked_at": "t"}})
    with pytest.raises(ValueError, match="lower-case"):
        _pricing(labelling={**labelling, "tasks": {"Bad Task": labelling["default"]}})


def test_repo_pricing_is_the_only_source():
    """No dollar constant in cost/ or report/ code: every rate must come from pricing.yaml."""
    import re
    from pathlib import Path
    import baseweight_assets
    root = Path(baseweight_assets.__file__).parent
    for path in [*root.glob("cost/*.py"), *root.glob("report/*.py")]:
        # schema versions (x.y.z) and the significance level are not money
        text = re.sub(r"\b\d+\.\d+\.\d+\b|^ALPHA = 0\.05$", "", path.read_text(), flags=re.M)
        for hit in re.findall(r"\b\d+\.\d+\b", text):
            assert hit in UNIT_CONSTANTS, f"{path}: suspicious numeric constant {hit}"
