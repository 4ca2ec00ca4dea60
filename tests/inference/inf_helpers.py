"""Shared builders for the inference tests."""

from __future__ import annotations

from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import PredictionRequest
from baseweight_assets.inference.retry import CircuitBreaker, RetryPolicy

FAST_RETRY = RetryPolicy(base_delay_s=0.05, max_delay_s=0.2, max_retry_after_s=1.0)


def fast_breaker() -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=50, cooldown_s=0.2, max_trips=2)


def endpoint_for(base_url: str, *, served_by: str = "vllm", api_key_env: str | None = None,
                 identity: str = "fault|m") -> Endpoint:
    return Endpoint(base_url=base_url, model="m", api_key_env=api_key_env, served_by=served_by, stand_in=False,
                    supports_logprobs=True, supports_json_schema=False, supports_guided_choice=False,
                    identity=identity)


def make_requests(texts: list[str], max_tokens: int = 16) -> list[PredictionRequest]:
    return [PredictionRequest(example_id=f"ex-{i}", question_id=f"q-{i}",
                              messages=[{"role": "system", "content": "Answer briefly."},
                                        {"role": "user", "content": t}],
                              max_tokens=max_tokens, response_format=None, guided_choice=None, extra_body={},
                              prompt_hash="p" * 8, few_shot_hash="") for i, t in enumerate(texts)]


RUN_KW = dict(task_id="t", model_id="m", condition="zero-shot", concurrency=3, timeout_s=1.0, max_attempts=4,
              warmup=0, price=None, spend_cap_usd=None, rpm=None, tpm=None, retry_policy=FAST_RETRY,
              latency_probe=2)
