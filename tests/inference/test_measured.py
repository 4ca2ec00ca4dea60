"""Throughput after a resume covers every session's measured work, not just the last one."""

import json

import pytest
from fault_server import FaultServer
from inf_helpers import RUN_KW, endpoint_for, fast_breaker, make_requests

from baseweight_assets.inference import measured
from baseweight_assets.inference.runner import run_predictions

KEY = {"identity": "vllm|m", "concurrency": 4}


def _rows(n_ok: int, tokens: int, n_err: int = 0, latency: float = 0.5) -> list[dict]:
    ok = [{"output_tokens": tokens, "error": None, "latency_s": latency, "ttft_s": latency / 5} for _ in range(n_ok)]
    return ok + [{"output_tokens": 0, "error": "boom", "latency_s": None, "ttft_s": None}] * n_err


def test_sessions_with_the_same_key_add_up():
    first = measured.measure(KEY, 6.0, {"probe": (_rows(2, 10, latency=1.0), 2.0), "bulk": (_rows(9, 10, 1), 4.0)})
    second = measured.measure(KEY, 3.0, {"probe": (_rows(2, 10, latency=3.0), 1.0), "bulk": (_rows(5, 20), 2.0)})
    total = measured.merge(first, second)
    timing = measured.timing(total)
    # bulk: (10 + 5) queries and (90 + 100) tokens over (4 + 2) s; errors count as queries, not tokens
    assert timing["throughput_qps"] == pytest.approx(15 / 6) and timing["output_tokens_per_s"] == pytest.approx(190 / 6)
    assert timing["wall_s"] == 9.0 and timing["latency_n"] == 4 and total["sessions"] == 2
    assert timing["latency_p50_s"] == pytest.approx(2.0)  # samples 1, 1, 3, 3
    assert timing["ttft_p50_s"] == pytest.approx(0.4)
    assert measured.timing(second)["throughput_qps"] == pytest.approx(5 / 2)  # what overwriting reported


def test_a_session_of_another_endpoint_or_concurrency_starts_over():
    first = measured.measure(KEY, 6.0, {"probe": (_rows(2, 10), 2.0), "bulk": (_rows(10, 10), 4.0)})
    other = measured.measure({**KEY, "concurrency": 8}, 1.0, {"probe": (_rows(1, 5), 1.0), "bulk": ([], 0.0)})
    assert measured.merge(first, other) == other
    # no bulk phase in a session: throughput falls back to the probe's
    assert measured.timing(other)["throughput_qps"] == pytest.approx(1.0)


def test_a_resumed_run_merges_its_throughput_with_the_earlier_one(tmp_path):
    texts = [f"question {i}" for i in range(10)] + ["[500x4] fails the first run", "[500x4] this one too"]
    requests = make_requests(texts)
    store = tmp_path / "p.jsonl"
    sidecar = tmp_path / "p.jsonl.run.json"
    kw = {**RUN_KW, "latency_probe": 2}
    with FaultServer(delay_s=0.02) as server:
        first = run_predictions(requests, endpoint_for(server.base_url), store, breaker=fast_breaker(),
                                log=lambda m: None, **kw)["run"]
        first_sums = json.loads(sidecar.read_text())["measured"]
        second = run_predictions(requests, endpoint_for(server.base_url), store, breaker=fast_breaker(),
                                 log=lambda m: None, **kw)["run"]
        total = json.loads(sidecar.read_text())["measured"]
    assert first["errors"] == 2 and second["errors"] == 0 and second["calls_made"] == 2
    assert total["sessions"] == 2
    # the second session only re-asked the two error rows (probe phase); its bulk phase measured nothing
    assert total["phases"]["bulk"] == first_sums["phases"]["bulk"]
    assert total["phases"]["probe"]["queries"] == first_sums["phases"]["probe"]["queries"] + 2
    assert second["latency_n"] == first["latency_n"] + 2 == 4
    assert second["throughput_qps"] == pytest.approx(first["throughput_qps"])  # bulk throughput kept
    assert second["wall_s"] == pytest.approx(total["wall_s"]) and second["wall_s"] > first["wall_s"]
