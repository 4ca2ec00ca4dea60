"""The OpenAI-compatible HTTP backend (the OpenAI API, a vLLM server): streamed calls at bounded concurrency after a
warm-up and a concurrency-1 latency probe, with retries (backoff, Retry-After), a circuit breaker, RPM/TPM pacing and
the spending caps (one partition's and the main run's ledger)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.client import CallResult, make_client, stream_chat
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.pacing import Pacer
from baseweight_assets.inference.requests import PredictionRequest, request_body
from baseweight_assets.inference.retry import (CircuitBreaker, CircuitOpenError, RetryPolicy, is_rate_limited,
                                               is_retryable, retry_after_s)
from baseweight_assets.inference.runner import Emit, Session
from baseweight_assets.inference.spend import SpendGuard, SpendLedger, may_have_been_billed
from baseweight_assets.redaction import redact


def estimate_input_tokens(request: PredictionRequest) -> int:
    # ~4 characters per token: only used to pace and to reserve spend, never recorded.
    return sum(len(str(m.get("content", ""))) for m in request.messages) // 4 + 4 * len(request.messages)


class _Run:
    def __init__(self, endpoint: Endpoint, *, timeout_s: float, max_attempts: int, guard: SpendGuard,
                 pacer: Pacer, policy: RetryPolicy, breaker: CircuitBreaker, log: Callable[[str], None]) -> None:
        self.endpoint, self.timeout_s, self.max_attempts = endpoint, timeout_s, max_attempts
        self.guard, self.pacer, self.policy, self.breaker, self.log = guard, pacer, policy, breaker, log
        self.client = make_client(endpoint, timeout_s)
        self.calls = 0
        self.retries = 0
        self.stopped: str | None = None
        self.rng = random.Random(0)

    async def call(self, request: PredictionRequest, label: str) -> tuple[CallResult | None, str | None]:
        """(result, None) or (None, error text); None, None when a spending cap stopped the run first.

        Each attempt reserves its worst-case cost before it goes (see ``spend``): a success settles at its
        measured tokens, a failure the provider may have billed keeps the reservation as spent.
        """
        body = request_body(request, self.endpoint)
        est = estimate_input_tokens(request)
        last = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            reservation = self.guard.try_reserve(est, request.max_tokens)
            if reservation is None:
                self.stopped = self.stopped or self.guard.refusal
                return None, None
            try:
                ticket = await self.breaker.before_call()
            except CircuitOpenError as exc:
                self.guard.fail(reservation, billed=False)
                return None, f"{exc}; last error: {last}"
            try:
                event = await self.pacer.acquire(est + request.max_tokens)
                self.calls += 1
                result = await stream_chat(self.client, body, self.timeout_s)
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
                self.guard.fail(reservation, billed=may_have_been_billed(exc))
                last = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, self.client.api_key)
                if isinstance(exc, TimeoutError):
                    last = f"timeout after {self.timeout_s}s"
                if not is_retryable(exc):
                    self.breaker.record_success(ticket)  # the endpoint answered; the request itself is bad
                    return None, f"attempt {attempt}/{self.max_attempts}: {last}"
                server_wait = retry_after_s(exc)
                self.breaker.record_failure(ticket, server_wait)
                if attempt == self.max_attempts:
                    break
                delay = self.policy.delay(attempt, server_wait, self.rng)
                if is_rate_limited(exc):
                    self.pacer.rate_limited(event, delay)  # everyone waits, and the pace is cut
                self.retries += 1
                self.log(f"{label}: attempt {attempt}/{self.max_attempts} failed ({last[:200]}); "
                         f"retrying in {delay:.2f}s")
                await asyncio.sleep(delay)
                continue
            except BaseException:  # cancelled or interrupted mid-call: the request may have been processed
                self.guard.fail(reservation, billed=True)
                raise
            self.breaker.record_success(ticket)
            Pacer.settle(event, result.input_tokens + result.output_tokens)
            self.guard.settle(reservation, result.input_tokens, result.output_tokens, result.cached_input_tokens)
            return result, None
        return None, f"failed after {self.max_attempts} attempts: {last}"


class HttpBackend:
    """``answer`` as the backend protocol of ``runner.predict`` asks; one instance per partition run."""

    def __init__(self, endpoint: Endpoint, *, concurrency: int, timeout_s: float, max_attempts: int, warmup: int,
                 price: ApiPrice | None, spend_cap_usd: float | None, rpm: int | None, tpm: int | None,
                 retry_policy: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                 ledger: SpendLedger | None = None) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError(f"concurrency and max_attempts must be >= 1, got {concurrency}, {max_attempts}")
        self.endpoint, self.concurrency, self.timeout_s, self.max_attempts = endpoint, concurrency, timeout_s, \
            max_attempts
        self.warmup, self.rpm, self.tpm = warmup, rpm, tpm
        self.retry_policy, self.breaker = retry_policy or RetryPolicy(), breaker or CircuitBreaker()
        # Only the paid API spends money per token; a local server costs GPU time instead.
        self.guard = SpendGuard(price if endpoint.served_by == "openai" else None, spend_cap_usd, ledger)

    @property
    def measure_key(self) -> dict:
        return {"identity": self.endpoint.identity, "concurrency": self.concurrency}

    def answer(self, pending: list[tuple[PredictionRequest, str]], emit: Emit, *, latency_probe: int,
               log: Callable[[str], None]) -> Session:
        run = _Run(self.endpoint, timeout_s=self.timeout_s, max_attempts=self.max_attempts, guard=self.guard,
                   pacer=Pacer(self.rpm, self.tpm), policy=self.retry_policy, breaker=self.breaker, log=log)
        timed = asyncio.run(_call_pending(run, pending, emit, warmup=self.warmup, concurrency=self.concurrency,
                                          latency_probe=latency_probe))
        wall, busy = timed if timed else (0.0, {})
        return Session(wall_s=wall, busy_s=busy, calls=run.calls, retries=run.retries, spend_usd=self.guard.spent,
                       spend_unconfirmed_usd=self.guard.unconfirmed, stopped=run.stopped,
                       info={"concurrency": self.concurrency, "latency_concurrency": 1})


async def _call_pending(run: _Run, pending: list[tuple[PredictionRequest, str]], emit: Emit, *, warmup: int,
                        concurrency: int, latency_probe: int) -> tuple[float, dict[str, float]] | None:
    """Warm up, probe latency one at a time, then the bulk at ``concurrency``; each answer is emitted (stored) as it
    completes. Returns (wall seconds, {phase: busy seconds}), or None when nothing was due."""
    try:
        if not pending:
            return None
        for i in range(warmup):  # same first request, results discarded, before any clock starts
            _, err = await run.call(pending[0][0], f"warm-up {i + 1}/{warmup}")
            if err:
                run.log(f"warm-up {i + 1}/{warmup} failed: {err[:200]}")

        async def one(request: PredictionRequest, rhash: str, phase: str) -> None:
            result, error = await run.call(request, request.example_id)
            if result is None and error is None:
                return  # spend cap: not done, no row
            emit(request, rhash, result, error, phase)

        n_probe = min(latency_probe, len(pending)) if concurrency > 1 else len(pending)
        t0 = time.perf_counter()
        for request, rhash in pending[:n_probe]:
            await one(request, rhash, "probe")
        t1 = time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        async def bounded(request: PredictionRequest, rhash: str) -> None:
            async with sem:
                await one(request, rhash, "bulk")

        await asyncio.gather(*(bounded(r, h) for r, h in pending[n_probe:]))
        t2 = time.perf_counter()
        return t2 - t0, {"probe": t1 - t0, "bulk": t2 - t1}
    finally:
        await run.client.close()
