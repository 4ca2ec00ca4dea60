import asyncio
import random
import time
from types import SimpleNamespace

import pytest

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.inference.endpoint import local_endpoint, resolve_api_endpoint
from baseweight_assets.inference.pacing import Pacer
from baseweight_assets.inference.requests import build_requests, request_body, request_hash
from baseweight_assets.inference.retry import CircuitBreaker, CircuitOpenError, RetryPolicy, retry_after_s
from baseweight_assets.inference.structured import unwrap_label
from test_servers import REPO, _prepared, _Prompt

CONFIG = load_bench_config(REPO / "configs")


def test_openai_endpoint_gets_json_schema_reasoning_effort_and_max_completion_tokens(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-xyz-123456")
    model = CONFIG.models["gpt-5.4-mini"]
    ep = resolve_api_endpoint(model, stand_in_url=None, stand_in_model=None)
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
    ep = local_endpoint(model, base_url="http://127.0.0.1:8000/v1", served_model="adapter_banking77",
                        adapter_sha256="abc")
    reqs = build_requests(CONFIG.tasks["banking77"], _prepared(), _Prompt(), model, "5-shot", max_tokens=32,
                          constrained=True, endpoint=ep)
    body = request_body(reqs[0], ep)
    assert body["structured_outputs"] == {"choice": ["card_arrival", "exchange_charge", "top_up"]}
    assert body["chat_template_kwargs"] == {"enable_thinking": False} and body["max_tokens"] == 32
    assert "response_format" not in body and reqs[0].few_shot_hash == "fs-sha" and len(reqs[0].messages) == 4
    assert "abc" in ep.identity and "b968826d" in ep.identity


def test_no_key_and_no_stand_in_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="gpt-5.4-mini.yaml.*OPENAI_API_KEY is not set"):
        resolve_api_endpoint(CONFIG.models["gpt-5.4-mini"], stand_in_url=None, stand_in_model=None)


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
