import asyncio
import email.utils
import random
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.inference.backends import api_answerer
from baseweight_assets.inference.endpoint import engine_endpoint, openai_endpoint, vllm_endpoint
from baseweight_assets.inference.pacing import Pacer
from baseweight_assets.inference.requests import build_requests, request_body, request_hash
from baseweight_assets.inference.retry import CircuitBreaker, CircuitOpenError, RetryPolicy, retry_after_s
from baseweight_assets.inference.structured import unwrap_label
from test_servers import REPO, _prepared, _Prompt

CONFIG = load_bench_config(REPO / "configs")


def test_openai_endpoint_gets_json_schema_reasoning_effort_and_max_completion_tokens(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-xyz-123456")
    model = CONFIG.models["gpt-5.4-mini"]
    ep = openai_endpoint(model)
    assert ep.served_by == "openai" and not ep.stand_in and ep.supports_json_schema
    reqs = build_requests(CONFIG.tasks["banking77"], _prepared(), _Prompt(), model, "zero-shot", max_tokens=32,
                          constrained=True, endpoint=ep)
    assert [r.example_id for r in reqs] == ["b-1", "b-2", "b-3"]  # b-4 is in no seed
    body = request_body(reqs[0], ep)
    assert body["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"][0] == "card_arrival"
    assert body["reasoning_effort"] == "none" and body["max_completion_tokens"] == 32 and body["logprobs"]
    assert reqs[0].few_shot_hash == "" and len(reqs[0].messages) == 2
    unconstrained = build_requests(CONFIG.tasks["banking77"], _prepared(), _Prompt(), model, "zero-shot",
                                   max_tokens=32, constrained=False, endpoint=ep)
    assert unconstrained[0].response_format is None
    assert request_hash(unconstrained[0], ep) != request_hash(reqs[0], ep)


def test_vllm_endpoint_gets_guided_choice_and_thinking_off():
    model = CONFIG.models["qwen3-8b"]
    weights = {"hf_id": model.hf_id, "revision": model.revision, "weights": "snapshot"}
    ep = vllm_endpoint(model, weights, base_url="http://127.0.0.1:8000/v1", served_model="adapter_banking77",
                       adapter_sha256="abc")
    reqs = build_requests(CONFIG.tasks["banking77"], _prepared(), _Prompt(), model, "5-shot", max_tokens=32,
                          constrained=True, endpoint=ep)
    body = request_body(reqs[0], ep)
    assert body["structured_outputs"] == {"choice": ["card_arrival", "exchange_charge", "top_up"]}
    assert body["chat_template_kwargs"] == {"enable_thinking": False} and body["max_tokens"] == 32
    assert "response_format" not in body and reqs[0].few_shot_hash == "fs-sha" and len(reqs[0].messages) == 4
    assert "abc" in ep.identity and "b968826d" in ep.identity


def test_no_key_and_no_stand_in_is_a_clear_error():
    with pytest.raises(RuntimeError, match="gpt-5.4-mini.yaml.*OPENAI_API_KEY is not set"):
        with api_answerer(CONFIG.models["gpt-5.4-mini"], live=False, fake=False, stand_in=None, stand_in_dir=None,
                          stand_in_weights=None):
            pass


def test_engine_and_stand_in_identities_keep_their_caches_apart():
    local = CONFIG.models["smollm2-135m"]
    weights = {"hf_id": local.hf_id, "revision": local.revision, "weights": "gguf-sha"}
    own = engine_endpoint(local, weights)
    stand_in = engine_endpoint(local, weights, stand_in_for=CONFIG.models["gpt-5.4-nano"])
    adapter = engine_endpoint(local, weights, adapter_sha256="abc")
    assert stand_in.stand_in and not own.stand_in and own.served_by == stand_in.served_by == "engine"
    assert len({own.identity, stand_in.identity, adapter.identity}) == 3
    reqs = build_requests(CONFIG.tasks["banking77"], _prepared(), _Prompt(), local, "zero-shot", max_tokens=8,
                          constrained=True, endpoint=own)
    assert request_body(reqs[0], own)["structured_outputs"] == {"choice": ["card_arrival", "exchange_charge", "top_up"]}
    assert request_hash(reqs[0], own) != request_hash(reqs[0], stand_in)


def test_unwrap_label_keeps_raw_text_when_it_does_not_parse():
    assert unwrap_label('{"label": "top_up"}') == "top_up"
    assert unwrap_label('{"label": "top_up"') == '{"label": "top_up"'
    assert unwrap_label('["top_up"]') == '["top_up"]'


def test_backoff_is_exponential_jittered_and_honours_retry_after():
    policy, rng = RetryPolicy(base_delay_s=1, max_delay_s=8), random.Random(1)
    for attempt, cap in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 8)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert cap / 2 <= min(delays) and max(delays) <= cap and len(set(delays)) > 100
    assert all(7 <= policy.delay(1, 7.0, rng) <= 7.5 for _ in range(50))
    resp = SimpleNamespace(headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after_s(SimpleNamespace(response=resp)) == 0.0
    assert retry_after_s(SimpleNamespace(response=SimpleNamespace(headers={"retry-after-ms": "250"}))) == 0.25


def test_circuit_breaker_waits_out_cooldown_then_gives_up():
    async def scenario():
        breaker = CircuitBreaker(failure_threshold=2, cooldown_s=0.2, max_trips=1)
        breaker.record_failure()
        breaker.record_failure()
        assert breaker.is_open
        t0 = time.monotonic()
        await breaker.before_call()
        assert time.monotonic() - t0 >= 0.19
        breaker.record_failure()  # the half-open probe failed: second trip > max_trips
        await asyncio.sleep(0.25)
        with pytest.raises(CircuitOpenError):
            await breaker.before_call()
    asyncio.run(scenario())


def test_pacer_holds_rpm_and_tpm():
    async def scenario():
        pacer = Pacer(rpm=3, tpm=None, window_s=0.3)
        t0 = time.monotonic()
        for _ in range(6):
            await pacer.acquire(10)
        rpm_elapsed = time.monotonic() - t0
        tpm = Pacer(rpm=None, tpm=100, window_s=0.3)
        t1 = time.monotonic()
        for _ in range(3):
            await tpm.acquire(60)  # only one fits per window
        return rpm_elapsed, time.monotonic() - t1
    rpm_elapsed, tpm_elapsed = asyncio.run(scenario())
    assert 0.29 <= rpm_elapsed < 0.6
    assert 0.59 <= tpm_elapsed < 1.0


def _after(**headers) -> SimpleNamespace:
    return SimpleNamespace(response=SimpleNamespace(headers=headers))


@pytest.mark.parametrize("value", ["Wed, 99 Foo 2015 bad", "soon", "", "nan", "inf", "-3", "1e999",
                                   "Mon, 32 Jan 2024 00:00:00 GMT"])
def test_malformed_retry_after_is_treated_as_absent(value):
    assert retry_after_s(_after(**{"retry-after": value})) is None
    # a bad retry-after-ms falls through to a good Retry-After
    assert retry_after_s(_after(**{"retry-after-ms": value, "retry-after": "3"})) == 3.0


def test_retry_after_http_date_in_the_future_and_unknown_zone():
    future = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 115 <= retry_after_s(_after(**{"retry-after": future})) <= 120
    naive = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%a, %d %b %Y %H:%M:%S -0000")
    assert 55 <= retry_after_s(_after(**{"retry-after": naive})) <= 60  # "-0000" is read as GMT


def test_malformed_retry_after_from_the_server_still_ends_in_an_answer(tmp_path):
    from fault_server import FaultServer, expected_answer
    from inf_helpers import RUN_KW, endpoint_for, make_requests

    from baseweight_assets.inference.runner import run_predictions

    requests = make_requests(["[429x2] bad header twice"])
    with FaultServer(retry_after="Wed, 99 Foo 2015 25:61:00 GMT") as server:
        out = run_predictions(requests, endpoint_for(server.base_url), tmp_path / "p.jsonl", log=lambda m: None,
                              **RUN_KW)
    assert out["rows"][0]["error"] is None and out["rows"][0]["output"] == expected_answer(requests[0].messages)
    assert out["run"]["retries"] == 2


def test_breaker_counts_consecutive_failures_in_completion_order():
    async def scenario():
        breaker = CircuitBreaker(failure_threshold=3, cooldown_s=60)
        tickets = [await breaker.before_call() for _ in range(6)]  # six calls in flight at once
        for ticket, ok in zip(tickets, [False, False, True, False, False]):
            breaker.record_success(ticket) if ok else breaker.record_failure(ticket)
        assert not breaker.is_open  # never three failures in a row as they completed
        breaker.record_failure(tickets[5])
        assert breaker.is_open and breaker.trips == 1
    asyncio.run(scenario())


def test_a_call_from_before_the_outage_neither_closes_the_breaker_nor_fails_its_probe():
    async def scenario():
        breaker = CircuitBreaker(failure_threshold=2, cooldown_s=0.2, max_trips=3)
        old = [await breaker.before_call() for _ in range(4)]
        breaker.record_failure(old[0])
        breaker.record_failure(old[1])
        assert breaker.is_open
        breaker.record_success(old[2])  # finished late; it said nothing about the endpoint now
        assert breaker.is_open
        probe = await breaker.before_call()  # after the cooldown: the one probe
        breaker.record_failure(old[3])  # a stale failure is not the probe's outcome
        assert breaker.trips == 1
        breaker.record_success(probe)
        assert not breaker.is_open and breaker.trips == 1
        assert await breaker.before_call() == probe  # closed: calls go at once, in the same epoch
    asyncio.run(scenario())


def test_breaker_cooldown_honours_a_longer_retry_after():
    async def scenario():
        breaker = CircuitBreaker(failure_threshold=1, cooldown_s=0.05, max_cooldown_s=10)
        ticket = await breaker.before_call()
        t0 = time.monotonic()
        breaker.record_failure(ticket, retry_after_s=0.4)
        await breaker.before_call()
        waited = time.monotonic() - t0
        capped = CircuitBreaker(failure_threshold=1, cooldown_s=0.05, max_cooldown_s=0.1)
        capped.record_failure(await capped.before_call(), retry_after_s=3600)
        t1 = time.monotonic()
        await capped.before_call()
        return waited, time.monotonic() - t1
    waited, capped_wait = asyncio.run(scenario())
    assert waited >= 0.39 and capped_wait < 1.0


def test_pacer_after_a_429_pauses_everyone_and_halves_its_limits():
    async def scenario():
        unlimited = Pacer(rpm=None, tpm=None)
        event = await unlimited.acquire(5)
        unlimited.rate_limited(event, 0.3)
        t0 = time.monotonic()
        await unlimited.acquire(5)  # another request waits out the server's Retry-After too
        paused = time.monotonic() - t0

        pacer = Pacer(rpm=8, tpm=800, window_s=30)
        first = await pacer.acquire(10)
        pacer.rate_limited(first, None)
        assert pacer.limits() == (4, 400)
        pacer.rate_limited(first, None)  # a second 429 of a call started before the cut: no second cut
        assert pacer.limits() == (4, 400)
        for _ in range(3):
            await pacer.acquire(10)  # 4 calls in this window now fill the halved rpm ...
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pacer.acquire(10), 0.2)  # ... so the fifth waits (8 would have fitted)
        later = pacer._events[-1]
        pacer.rate_limited(later, None)  # a call started after the cut: cut again
        assert pacer.limits() == (2, 200)
        for _ in range(10):
            pacer.rate_limited([time.monotonic(), 0.0], None)
        assert pacer.limits() == (1, 50)  # floor: 1/16 of the configured limits
        return paused
    assert asyncio.run(scenario()) >= 0.29


def test_pacer_limits_double_back_after_clean_windows():
    async def scenario():
        pacer = Pacer(rpm=8, tpm=None, window_s=0.1)
        pacer.rate_limited(await pacer.acquire(1), None)
        pacer.rate_limited([time.monotonic(), 0.0], None)
        assert pacer.limits() == (2, None)
        await asyncio.sleep(0.12)
        await pacer.acquire(1)
        assert pacer.limits() == (4, None)  # one clean window: doubled once
        await asyncio.sleep(0.25)
        await pacer.acquire(1)
        return pacer.limits()
    assert asyncio.run(scenario()) == (8, None)
