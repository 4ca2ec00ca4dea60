"""The prediction store: one writer at a time, concurrent runs lose nothing, corrupt lines are re-asked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fault_server import FaultServer
from inf_helpers import RUN_KW, endpoint_for, make_requests

from baseweight_assets.inference import store as store_module
from baseweight_assets.inference.runner import run_predictions
from baseweight_assets.inference.store import PredictionStore
from baseweight_assets.storage.locks import LockTimeout

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_two_concurrent_runs_of_one_partition_lose_nothing_and_pay_once(tmp_path):
    n = 16
    store = tmp_path / "preds.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{REPO}", "OMP_NUM_THREADS": "1",
           "OPENAI_API_KEY": "sk-test-concurrent-runs"}
    with FaultServer(delay_s=0.05) as server:
        children = [subprocess.Popen([sys.executable, str(HERE / "inf_kill_child.py"), server.base_url, str(store),
                                      str(n)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                    for _ in range(2)]
        outputs = [c.communicate(timeout=120)[0] for c in children]
        completions = server.state.completions
    assert [c.returncode for c in children] == [0, 0], outputs
    rows = _lines(store)
    assert sorted(r["id"] for r in rows) == sorted(f"ex-{i}" for i in range(n))  # one row each, none lost
    assert all(r["error"] is None for r in rows)
    assert completions == n  # the second run waited for the first and found every request answered
    assert sum(f"{n} requests, {n} cached, 0 to answer" in out for out in outputs) == 1, outputs


def test_second_writer_times_out_naming_the_store_and_holder(tmp_path):
    path = tmp_path / "p.jsonl"
    holder = PredictionStore(path)
    holder.lock()
    logs: list[str] = []
    try:
        with pytest.raises(LockTimeout, match=rf"prediction store {path} is in use .*pid {os.getpid()} "):
            run_predictions(make_requests(["x"]), endpoint_for("http://127.0.0.1:9/v1"), path, log=logs.append,
                            **{**RUN_KW, "lock_timeout_s": 0.2})
        assert not path.exists()  # nothing was written by the refused run
        assert len(logs) == 1 and "is in use by another process" in logs[0] and "waiting up to 0.2s" in logs[0]
    finally:
        holder.close()
    with PredictionStore(path, lock_timeout_s=0) as again:  # released: the next writer gets it at once
        again.append({"request_hash": "h", "error": None})
    assert _lines(path) == [{"request_hash": "h", "error": None}]


def test_corrupt_middle_line_is_reported_and_its_request_asked_again(tmp_path):
    requests = make_requests(["one", "two", "three"])
    store = tmp_path / "p.jsonl"
    logs: list[str] = []
    with FaultServer() as server:
        run_predictions(requests, endpoint_for(server.base_url), store, log=lambda m: None, **RUN_KW)
        lines = store.read_text().splitlines()
        lost = json.loads(lines[1])["id"]
        store.write_text("\n".join([lines[0], '{"request_hash": "tr', lines[2]]) + "\n")  # bit rot mid-file
        out = run_predictions(requests, endpoint_for(server.base_url), store, log=logs.append, **RUN_KW)
    assert out["run"]["calls_made"] == 1 and out["run"]["cache_hits"] == 2
    assert [r["id"] for r in out["rows"]] == ["ex-0", "ex-1", "ex-2"] and all(r["error"] is None for r in out["rows"])
    assert any(f"{store}:2: corrupt prediction row" in m for m in logs), logs
    assert sorted(r["id"] for r in _lines(store)) == ["ex-0", "ex-1", "ex-2"]  # compacted: one valid row each
    assert lost == "ex-1" and (tmp_path / "p.jsonl.corrupt").read_text() == '{"request_hash": "tr\n'  # bytes kept
    logs.clear()
    with FaultServer() as server:
        again = run_predictions(requests, endpoint_for(server.base_url), store, log=logs.append, **RUN_KW)
    assert again["run"]["calls_made"] == 0 and not any("corrupt" in m for m in logs)


def test_reading_never_modifies_the_file_a_writer_may_be_appending_to(tmp_path):
    path = tmp_path / "p.jsonl"
    torn = b'{"request_hash": "a", "error": null}\n{"request_hash": "b", "err'  # a row being written right now
    path.write_bytes(torn)
    reader = PredictionStore(path)
    assert set(reader.load()) == {"a"} and not reader.covers(["a", "b"])
    assert path.read_bytes() == torn  # the old reader truncated the writer's half-written line
    with PredictionStore(path) as writer:  # the next writer cuts the torn tail before appending
        writer.append({"request_hash": "b", "error": None})
    assert path.read_bytes() == b'{"request_hash": "a", "error": null}\n{"error": null, "request_hash": "b"}\n'


def test_creating_the_store_fsyncs_its_directory_once(tmp_path, monkeypatch):
    synced: list[Path] = []
    monkeypatch.setattr(store_module, "fsync_dir", lambda p: synced.append(Path(p)))
    with PredictionStore(tmp_path / "deep" / "p.jsonl") as store:
        store.append({"request_hash": "a", "error": None})
        store.append({"request_hash": "b", "error": None})
    with PredictionStore(tmp_path / "deep" / "p.jsonl") as store:
        store.append({"request_hash": "c", "error": None})
    assert synced == [tmp_path / "deep"]
