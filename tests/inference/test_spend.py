"""What a call costs (cached input at its own price) and the fields every row carries for it."""

import pytest
from fault_server import FaultServer, prompt_tokens
from inf_helpers import RUN_KW, endpoint_for, make_requests

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.runner import ROW_FIELDS, run_predictions
from baseweight_assets.inference.spend import cost_usd

PRICE = ApiPrice(input_per_1m=2.0, output_per_1m=8.0, cached_input_per_1m=0.5, effective_from="x", source="test")
NO_CACHE_PRICE = ApiPrice(input_per_1m=2.0, output_per_1m=8.0, effective_from="x", source="test")


def test_cached_input_tokens_are_charged_at_the_cached_price():
    # 600k uncached x $2 + 400k cached x $0.50 + 500k output x $8, per million
    assert cost_usd(1_000_000, 500_000, PRICE, cached_input_tokens=400_000) == pytest.approx(1.2 + 0.2 + 4.0)
    assert cost_usd(1_000_000, 500_000, PRICE, cached_input_tokens=400_000, discount=0.5) == pytest.approx(2.7)
    assert cost_usd(1_000_000, 500_000, PRICE) == pytest.approx(6.0)
    # no cached price in the config: cached tokens cost the input price
    assert cost_usd(1_000_000, 500_000, NO_CACHE_PRICE, cached_input_tokens=400_000) == pytest.approx(6.0)
    assert cost_usd(10, 10, None, cached_input_tokens=5) == 0.0
    with pytest.raises(ValueError, match="cached_input_tokens=11 must be within 0..input_tokens=10"):
        cost_usd(10, 1, PRICE, cached_input_tokens=11)


def test_rows_carry_finish_reason_and_cached_tokens_and_spend_uses_them(tmp_path):
    requests = make_requests(["[cached3] a question with a cached prefix", "[length] cut by the limit", "plain"])
    with FaultServer() as server:
        out = run_predictions(requests, endpoint_for(server.base_url, served_by="openai"), tmp_path / "p.jsonl",
                              log=lambda m: None, **{**RUN_KW, "price": PRICE, "spend_cap_usd": 100.0})
    rows = out["rows"]
    assert all(set(r) == set(ROW_FIELDS) for r in rows)
    assert [r["cached_input_tokens"] for r in rows] == [3, 0, 0]
    assert [r["finish_reason"] for r in rows] == ["stop", "length", "stop"]
    assert [r["input_tokens"] for r in rows] == [prompt_tokens(r.messages) for r in requests]
    expected = sum(cost_usd(r["input_tokens"], r["output_tokens"], PRICE, cached_input_tokens=r["cached_input_tokens"])
                   for r in rows)
    by_hand = sum(((r["input_tokens"] - r["cached_input_tokens"]) * 2.0 + r["cached_input_tokens"] * 0.5
                   + r["output_tokens"] * 8.0) / 1e6 for r in rows)
    assert out["run"]["spend_usd"] == pytest.approx(expected) == pytest.approx(by_hand)


def test_error_rows_have_no_finish_reason(tmp_path):
    with FaultServer() as server:
        out = run_predictions(make_requests(["[400x1] rejected"]), endpoint_for(server.base_url), tmp_path / "p.jsonl",
                              log=lambda m: None, **RUN_KW)
    row = out["rows"][0]
    assert row["error"] and row["finish_reason"] is None and row["cached_input_tokens"] == 0
