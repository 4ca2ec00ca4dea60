"""What a call costs (cached input at its own price), the fields every row carries for it, failed attempts
counted conservatively, and one spend cap for a whole run across processes (the ledger)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fault_server import FaultServer, prompt_tokens
from inf_helpers import RUN_KW, endpoint_for, make_requests

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.http_backend import estimate_input_tokens
from baseweight_assets.inference.runner import ROW_FIELDS, run_predictions
from baseweight_assets.inference.spend import SpendLedger, cost_usd, ledger_key
from baseweight_assets.paths import ProjectPaths
from baseweight_assets.storage.liveness import process_token

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


# $1 per token, so spend in dollars reads as tokens
DOLLAR_PER_TOKEN = ApiPrice(input_per_1m=1e6, output_per_1m=1e6, effective_from="x", source="test")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def test_failed_attempts_that_may_have_been_billed_are_counted_in_full(tmp_path):
    texts = ["[500x1] server error once", "[429x1] rate limited once", "[stallx1] times out once",
             "[cutx1] stream cut once", "[400x1] rejected outright", "plain"]
    requests = make_requests(texts)
    with FaultServer() as server:
        out = run_predictions(requests, endpoint_for(server.base_url, served_by="openai"), tmp_path / "p.jsonl",
                              log=lambda m: None, **{**RUN_KW, "price": DOLLAR_PER_TOKEN, "spend_cap_usd": 1e9})
    rows = {t: r for t, r in zip(texts, out["rows"])}
    reserve = {t: estimate_input_tokens(r) + r.max_tokens for t, r in zip(texts, requests)}  # worst case, $
    billed_failures = sum(reserve[t] for t in texts[0:1] + texts[2:4])  # 5xx, timeout, cut stream
    answered_cost = sum(r["input_tokens"] + r["output_tokens"] for r in out["rows"])  # the 400 row adds 0
    assert rows["[400x1] rejected outright"]["error"] and rows["plain"]["error"] is None
    assert out["run"]["spend_usd"] == pytest.approx(answered_cost + billed_failures)  # 429 and 400: nothing
    assert out["run"]["spend_unconfirmed_usd"] == pytest.approx(billed_failures)


def test_a_connection_that_was_never_made_costs_nothing(tmp_path):
    out = run_predictions(make_requests(["anyone there?"]), endpoint_for("http://127.0.0.1:9/v1", served_by="openai"),
                          tmp_path / "p.jsonl", log=lambda m: None,
                          **{**RUN_KW, "price": DOLLAR_PER_TOKEN, "spend_cap_usd": 1e9, "max_attempts": 2})
    assert out["rows"][0]["error"] and out["run"]["calls_made"] == 2
    assert out["run"]["spend_usd"] == 0.0


def test_ledger_reservations_from_two_handles_share_one_cap(tmp_path):
    path = tmp_path / "spend" / "run-1.json"
    a, b = SpendLedger(path, 10.0), SpendLedger(path, 10.0)
    first, second = a.try_reserve(4.0), b.try_reserve(4.0)
    assert first and second and a.try_reserve(4.0) is None  # 8 reserved + 4 > 10
    a.settle(first, 1.0)  # the call cost less than its worst case
    third = b.try_reserve(4.0)  # 1 spent + 4 + 4 = 9 <= 10
    assert third is not None and b.try_reserve(2.0) is None
    b.settle(second, 4.0, unconfirmed=True)
    assert a.totals() == {"spent_usd": 5.0, "unconfirmed_usd": 4.0, "reserved_usd": 4.0, "cap_usd": 10.0}
    assert json.loads(path.read_text())["reservations"] == {third: {"usd": 4.0, "process": process_token()}}


def test_reservation_of_a_process_that_died_mid_call_counts_as_spent(tmp_path):
    path = tmp_path / "ledger.json"
    code = ("import os, sys; from pathlib import Path; from baseweight_assets.inference.spend import SpendLedger; "
            "print(SpendLedger(Path(sys.argv[1]), 10.0).try_reserve(2.5), flush=True); os._exit(0)")
    child = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.returncode == 0 and child.stdout.strip(), child.stderr
    assert SpendLedger(path, 10.0).totals() == {"spent_usd": 2.5, "unconfirmed_usd": 2.5, "reserved_usd": 0.0,
                                               "cap_usd": 10.0}


def test_run_wide_cap_holds_across_partitions_in_separate_processes(tmp_path):
    cap = 150.0  # each partition alone would spend ~150 (20 calls of ~6-9 tokens at $1/token)
    ledger = tmp_path / "spend" / "main-run.json"
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{REPO}", "OMP_NUM_THREADS": "1"}
    with FaultServer(delay_s=0.05) as server:
        children = [subprocess.Popen([sys.executable, str(HERE / "inf_ledger_child.py"), server.base_url,
                                      str(tmp_path / f"{part}.jsonl"), str(ledger), str(cap), part, "20"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for part in ("fpb", "banking77")]
        results = [c.communicate(timeout=120) for c in children]
    assert [c.returncode for c in children] == [0, 0], [err for _, err in results]
    runs = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    totals = SpendLedger(ledger, cap).totals()
    assert any(r["stopped"] for r in runs) and all(r["spend_usd"] > 0 for r in runs)
    assert totals["spent_usd"] <= cap and totals["reserved_usd"] == 0.0
    assert totals["spent_usd"] == pytest.approx(sum(r["spend_usd"] for r in runs))
    assert sum(r["rows_done"] for r in runs) < 40


def test_ad_hoc_runs_draw_on_their_own_cap_and_a_backfill_on_one(tmp_path):
    """The ledger a materialization draws on: its main run's, else its Dagster backfill's, else its own run's."""
    assert ledger_key("0f3a9c1d2e4b", backfill_id="qwertyui", run_id="r-1") == "0f3a9c1d2e4b"
    in_backfill = {ledger_key(None, backfill_id="qwertyui", run_id=r) for r in ("r-1", "r-2")}
    assert in_backfill == {"backfill-qwertyui"}
    assert ledger_key(None, backfill_id=None, run_id="r-1") == "run-r-1"
    assert ledger_key(None, backfill_id=None, run_id="r-2") == "run-r-2"
    assert ledger_key("", backfill_id="", run_id="r-3") == "run-r-3"  # an empty tag or env value is no scope
    paths = ProjectPaths(tmp_path, "full")
    assert paths.spend_ledger("run-r-1") == tmp_path / "results" / "spend" / "run-r-1.json"
    # two single materializations do not share spend: one spending its cap leaves the other's untouched
    first, second = (SpendLedger(paths.spend_ledger(ledger_key(None, backfill_id=None, run_id=r)), 5.0)
                     for r in ("r-1", "r-2"))
    assert first.try_reserve(5.0) is not None and first.try_reserve(0.01) is None
    assert second.try_reserve(5.0) is not None
