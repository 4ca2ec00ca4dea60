import json
import time

from fault_server import LOGPROB, FaultServer, expected_answer, prompt_tokens
from inf_helpers import RUN_KW, endpoint_for, fast_breaker, make_requests

from baseweight_assets.inference.runner import ROW_FIELDS, run_predictions

TEXTS = ["plain question one", "[429x2] rate limited twice", "[500x1] one server error",
         "[stallx1] stalls past the timeout", "[cutx1] stream cut mid-way", "[badjsonx1] malformed chunk",
         "[500x99] always failing", "[400x1] rejected request", "[429x1][cutx1][500x1] three faults",
         "plain question two"]


def test_faults_end_with_prediction_or_error_row(tmp_path):
    requests = make_requests(TEXTS)
    store = tmp_path / "preds.jsonl"
    with FaultServer() as server:
        t0 = time.perf_counter()
        out = run_predictions(requests, endpoint_for(server.base_url), store, breaker=fast_breaker(),
                              log=lambda m: None, **RUN_KW)
        elapsed = time.perf_counter() - t0
        attempts = dict(server.state.attempts)
    rows = out["rows"]
    assert [r["id"] for r in rows] == [r.example_id for r in requests]
    assert all(set(r) == set(ROW_FIELDS) for r in rows)
    by_text = {t: r for t, r in zip(TEXTS, rows)}
    for text, row in by_text.items():
        messages = requests[TEXTS.index(text)].messages
        if "x99" in text or "400" in text:
            assert row["error"] and row["output"] is None and row["output_tokens"] == 0
            continue
        assert row["error"] is None, (text, row["error"])
        assert row["output"] == expected_answer(messages)
        assert row["input_tokens"] == prompt_tokens(messages)
        assert row["output_tokens"] == len(expected_answer(messages).split())
        assert row["avg_logprob"] == LOGPROB
        assert 0 <= row["ttft_s"] <= row["latency_s"]
    assert "failed after 4 attempts" in by_text["[500x99] always failing"]["error"]
    assert "400" in by_text["[400x1] rejected request"]["error"] or "Bad" in by_text["[400x1] rejected request"]["error"]
    # retries stay within bounds: never more than max_attempts per request, 400 not retried
    keys = {json.dumps(r.messages, sort_keys=True): t for r, t in zip(requests, TEXTS)}
    per_text = {keys[k]: n for k, n in attempts.items()}
    assert per_text["plain question one"] == 1
    assert per_text["[429x2] rate limited twice"] == 3
    assert per_text["[500x99] always failing"] == 4
    assert per_text["[400x1] rejected request"] == 1
    assert per_text["[429x1][cutx1][500x1] three faults"] == 4
    assert out["run"]["calls_made"] == sum(attempts.values())
    assert elapsed < 15
    # the file holds exactly one row per request
    lines = store.read_text().splitlines()
    assert sorted(json.loads(x)["id"] for x in lines) == sorted(r.example_id for r in requests)


def test_rerun_makes_zero_calls_and_retries_only_error_rows(tmp_path):
    requests = make_requests(["a b c", "d e", "[500x4] fails first run only"])
    store = tmp_path / "p.jsonl"
    with FaultServer() as server:
        first = run_predictions(requests, endpoint_for(server.base_url), store, breaker=fast_breaker(),
                                log=lambda m: None, **RUN_KW)
        assert first["rows"][2]["error"] is not None
        second = run_predictions(requests, endpoint_for(server.base_url), store, breaker=fast_breaker(),
                                 log=lambda m: None, **RUN_KW)
        assert second["run"]["calls_made"] == 1 and second["run"]["cache_hits"] == 2
        assert second["rows"][2]["error"] is None
        third = run_predictions(requests, endpoint_for(server.base_url), store, breaker=fast_breaker(),
                                log=lambda m: None, **RUN_KW)
    assert third["run"]["calls_made"] == 0 and third["run"]["cache_hits"] == 3
    assert third["rows"] == second["rows"]
    assert third["run"]["latency_p50_s"] is not None  # timings measured when the rows were made
    assert len(store.read_text().splitlines()) == 3  # the superseded error row was dropped


def test_changed_model_identity_is_a_cache_miss(tmp_path):
    requests = make_requests(["same question"])
    store = tmp_path / "p.jsonl"
    with FaultServer() as server:
        run_predictions(requests, endpoint_for(server.base_url), store, log=lambda m: None, **RUN_KW)
        other = run_predictions(requests, endpoint_for(server.base_url, identity="fault|m|adapter-2"), store,
                                log=lambda m: None, **RUN_KW)
    assert other["run"]["calls_made"] == 1


def test_concurrency_is_bounded_and_throughput_measured(tmp_path):
    requests = make_requests([f"question number {i}" for i in range(12)])
    with FaultServer(delay_s=0.1) as server:
        out = run_predictions(requests, endpoint_for(server.base_url), tmp_path / "p.jsonl",
                              log=lambda m: None, **{**RUN_KW, "warmup": 2})
        assert server.state.max_inflight <= 3
        assert server.state.completions == 14  # 2 warm-up + 12
    run = out["run"]
    assert run["calls_made"] == 14 and len(out["rows"]) == 12
    # bulk phase: 10 requests at concurrency 3, ~0.1 s each -> well above 1 query/s sequential rate of ~10/s
    assert run["throughput_qps"] > 12
    assert run["latency_p50_s"] >= 0.1 and run["latency_n"] == 2
