import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_server import FaultServer
from inf_helpers import RUN_KW, endpoint_for, make_requests

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.runner import run_predictions
from baseweight_assets.inference.spend import SpendCapReached

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SECRET = "sk-test-SECRET-0123456789abcdef"


@pytest.mark.slow
def test_kill_9_mid_run_resumes_without_duplicates_or_gaps(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    n = 20
    store = tmp_path / "preds.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{REPO}", "OMP_NUM_THREADS": "1"}
    with FaultServer(delay_s=0.15) as server:
        child = subprocess.Popen([sys.executable, str(HERE / "inf_kill_child.py"), server.base_url, str(store), str(n)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if store.exists() and len(store.read_bytes().splitlines()) >= 6:
                    break
                time.sleep(0.02)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
        child_log = child.stdout.read().decode()
        assert child.returncode == -signal.SIGKILL
        saved = len([x for x in store.read_bytes().split(b"\n") if x.strip()])
        assert 6 <= saved < n, "the child must be killed mid-run"
        out = run_predictions(make_requests([f"question {i}" for i in range(n)]),
                              endpoint_for(server.base_url, api_key_env="OPENAI_API_KEY"), store,
                              log=lambda m: None, **{**RUN_KW, "concurrency": 2})
        completions = server.state.completions
    ids = [r["id"] for r in out["rows"]]
    assert ids == [f"ex-{i}" for i in range(n)] and all(r["error"] is None for r in out["rows"])
    assert out["run"]["cache_hits"] >= saved - 1  # a torn last line is redone
    assert out["run"]["calls_made"] == n - out["run"]["cache_hits"]
    assert completions <= n + 2 + 1  # at most the in-flight calls at the kill were paid twice
    lines = store.read_text().splitlines()
    assert sorted(json.loads(x)["id"] for x in lines) == sorted(ids)
    assert SECRET not in child_log and SECRET not in store.read_text()


def test_torn_last_line_is_dropped_and_redone(tmp_path):
    requests = make_requests(["one", "two", "three"])
    store = tmp_path / "p.jsonl"
    with FaultServer() as server:
        run_predictions(requests, endpoint_for(server.base_url), store, log=lambda m: None, **RUN_KW)
        text = store.read_text()
        store.write_text(text[: len(text) - 20])  # kill -9 mid-write of the last row
        out = run_predictions(requests, endpoint_for(server.base_url), store, log=lambda m: None, **RUN_KW)
    assert out["run"]["calls_made"] == 1 and len(store.read_text().splitlines()) == 3


def test_spend_cap_stops_cleanly_after_flushing(tmp_path):
    # 1M tokens cost $1M here, so each call reserves ~ (prompt + 16 max tokens) dollars
    price = ApiPrice(input_per_1m=1e6, output_per_1m=1e6, effective_from="x", source="test")
    requests = make_requests([f"q {i}" for i in range(10)])
    store = tmp_path / "p.jsonl"
    logs: list[str] = []
    with FaultServer() as server:
        with pytest.raises(SpendCapReached) as info:
            run_predictions(requests, endpoint_for(server.base_url, served_by="openai"), store, log=logs.append,
                            **{**RUN_KW, "price": price, "spend_cap_usd": 45.0, "concurrency": 1})
    result = info.value.result
    done = len(result["rows"])
    assert 0 < done < 10
    assert f"{done}/10 rows done" in str(info.value)
    assert result["run"]["spend_usd"] <= 45.0
    assert result["run"]["stopped_early"].startswith("spend cap")
    assert len(store.read_text().splitlines()) == done  # flushed before raising


def test_local_servers_spend_nothing(tmp_path):
    price = ApiPrice(input_per_1m=1e6, output_per_1m=1e6, effective_from="x", source="test")
    with FaultServer() as server:
        out = run_predictions(make_requests(["a", "b"]), endpoint_for(server.base_url), tmp_path / "p.jsonl",
                              log=lambda m: None, **{**RUN_KW, "price": price, "spend_cap_usd": 1.0})
    assert out["run"]["spend_usd"] == 0.0 and len(out["rows"]) == 2


def test_api_key_never_in_rows_logs_or_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    logs: list[str] = []
    requests = make_requests(["[500x99] fails", "[400x1] rejected", "fine"])
    store = tmp_path / "p.jsonl"
    with FaultServer() as server:
        out = run_predictions(requests, endpoint_for(server.base_url, api_key_env="OPENAI_API_KEY"), store,
                              log=logs.append, **RUN_KW)
        auth_seen = f"Bearer {SECRET}" in server.state.auth_headers  # really sent, never written
    assert auth_seen and out["rows"][0]["error"]
    blobs = [store.read_text(), json.dumps(out), "\n".join(logs)]
    blobs += [p.read_text() for p in tmp_path.iterdir()]
    for blob in blobs:
        assert SECRET not in blob and "SECRET" not in blob


def test_redact_masks_the_secrets_it_is_given_and_anything_key_shaped():
    from baseweight_assets.redaction import redact

    assert redact(f"Incorrect API key provided: {SECRET}") == "Incorrect API key provided: ***"
    assert redact("Incorrect API key provided: sk-test-****CRET") == "Incorrect API key provided: ***"
    assert redact("401 for token hf_abcdefghijkl on repo x") == "401 for token hf_*** on repo x"
    unshaped = "azure-0123456789SECRETvalue"  # a key no pattern knows is masked only when named
    assert redact(f"denied: {unshaped}", unshaped, None, "") == "denied: ***"
    assert redact(f"denied: {unshaped}") == f"denied: {unshaped}"
    # longest first: a secret containing another is masked whole, not left with a tail
    assert redact("k=abcdef123456-tail", "abcdef123456", "abcdef123456-tail") == "k=***"
