"""Run a partition's requests: cache hits first, warm-up, a concurrency-1 latency probe, then the bounded-
concurrency bulk; every row is appended (fsync) as it completes and failures become error rows."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.client import CallResult, make_client, stream_chat
from baseweight_assets.inference import measured
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.measured import TIMING_KEYS
from baseweight_assets.inference.pacing import Pacer
from baseweight_assets.inference.redaction import redact
from baseweight_assets.inference.requests import PredictionRequest, request_body, request_hash
from baseweight_assets.inference.retry import (CircuitBreaker, CircuitOpenError, RetryPolicy, is_rate_limited,
                                               is_retryable, retry_after_s)
from baseweight_assets.inference.spend import SpendCapReached, SpendGuard, SpendLedger, may_have_been_billed
from baseweight_assets.inference.store import DEFAULT_LOCK_TIMEOUT_S, PredictionStore, answered
from baseweight_assets.inference.structured import unwrap_label
from baseweight_assets.storage.atomic import read_json, write_json

ROW_FIELDS = ("id", "question_id", "task", "model", "condition", "variant", "request_hash", "prompt_hash",
              "few_shot_hash", "output", "input_tokens", "cached_input_tokens", "output_tokens", "finish_reason",
              "latency_s", "ttft_s", "avg_logprob", "error", "timestamp", "served_by", "stand_in")


def make_row(request: PredictionRequest, rhash: str, endpoint: Endpoint, *, task_id: str, model_id: str,
             condition: str, result: CallResult | None, error: str | None, served_by: str | None = None) -> dict:
    return {
        "id": request.example_id, "question_id": request.question_id, "task": task_id, "model": model_id,
        "condition": condition, "variant": f"{model_id}__{condition}", "request_hash": rhash,
        "prompt_hash": request.prompt_hash, "few_shot_hash": request.few_shot_hash,
        # constrained output: {"label": X} -> X; raw text is kept when it does not parse
        "output": (unwrap_label(result.output) if request.response_format else result.output) if result else None,
        "input_tokens": result.input_tokens if result else 0,
        "cached_input_tokens": result.cached_input_tokens if result else 0,  # a subset of input_tokens
        "output_tokens": result.output_tokens if result else 0,
        "finish_reason": result.finish_reason if result else None,  # "length": cut by the token limit
        "latency_s": result.latency_s if result else None,
        "ttft_s": result.ttft_s if result else None,
        "avg_logprob": result.avg_logprob if result else None,
        "error": error, "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "served_by": served_by or endpoint.served_by, "stand_in": endpoint.stand_in,
    }


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
                last = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
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


def run_predictions(requests: list[PredictionRequest], endpoint: Endpoint, store_path: Path, *, task_id: str,
                    model_id: str, condition: str, concurrency: int, timeout_s: float, max_attempts: int,
                    warmup: int, price: ApiPrice | None, spend_cap_usd: float | None, rpm: int | None,
                    tpm: int | None, log: Callable[[str], None] = print, retry_policy: RetryPolicy | None = None,
                    breaker: CircuitBreaker | None = None, latency_probe: int = 8,
                    retry_errors: bool = True, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
                    ledger: SpendLedger | None = None) -> dict:
    """Predict every request, reusing rows already in ``store_path``; see the module docstring.

    ``latency_probe`` requests run one at a time (concurrency-1 latency and TTFT); the rest run at
    ``concurrency`` and give the throughput; both add to what earlier sessions of the partition measured
    (``measured``). Error rows are retried on the next run when ``retry_errors``.
    Spending: ``spend_cap_usd`` caps this partition; ``ledger`` (one ``SpendLedger`` file for a whole main run)
    caps the run across partitions and processes; a call is made only if it fits both. Raises SpendCapReached
    (after flushing) when a cap stops the run; its ``result`` has the partial result.
    The store is locked for the whole run: a concurrent run of the same partition waits up to ``lock_timeout_s``
    (then raises ``storage.locks.LockTimeout`` naming the holder) and finds the first run's rows answered.
    """
    if concurrency < 1 or max_attempts < 1:
        raise ValueError(f"concurrency and max_attempts must be >= 1, got {concurrency}, {max_attempts}")
    label = f"{task_id}/{model_id}__{condition}"
    hashes = [request_hash(r, endpoint) for r in requests]
    if len(set(hashes)) != len(hashes):
        raise ValueError(f"{label}: duplicate requests (same example id and body)")
    with PredictionStore(store_path, lock_timeout_s=lock_timeout_s, log=log) as store:
        existing = store.load()
        done = answered(existing, hashes, retry_errors)
        cache_hits = len(done)
        pending = [(r, h) for r, h in zip(requests, hashes) if h not in done]
        log(f"{label}: {len(requests)} requests, {cache_hits} cached, {len(pending)} to call on "
            f"{endpoint.served_by}{' (stand-in)' if endpoint.stand_in else ''}")
        # Only the paid API spends money per token; a local server or stand-in costs GPU/CPU time instead.
        guard = SpendGuard(price if endpoint.served_by == "openai" else None, spend_cap_usd, ledger)
        run = _Run(endpoint, timeout_s=timeout_s, max_attempts=max_attempts, guard=guard, pacer=Pacer(rpm, tpm),
                   policy=retry_policy or RetryPolicy(), breaker=breaker or CircuitBreaker(), log=log)
        session = asyncio.run(_call_pending(
            run, pending, store, done, warmup=warmup, concurrency=concurrency, latency_probe=latency_probe,
            make=partial(make_row, endpoint=endpoint, task_id=task_id, model_id=model_id, condition=condition)))
        rows = [done[h] for h in hashes if h in done]
        if store.corrupt or any(h in existing and done.get(h) is not existing[h] for h in hashes):
            # An earlier error row was superseded, or corrupt lines were skipped: rewrite one row per hash (rows
            # of other requests are kept; corrupt lines go to the .corrupt sidecar).
            store.rewrite(list({**existing, **done}.values()))
        sidecar = store.path.with_name(store.path.name + ".run.json")
        previous = read_json(sidecar) if sidecar.exists() else None
        total = measured.merge((previous or {}).get("measured"), measured.measure(
            {"identity": endpoint.identity, "concurrency": concurrency}, *session)) if session else None
        if total is not None:
            timing = measured.timing(total)
        else:  # nothing called: keep the timings measured when the rows were made
            timing = {k: (previous or {}).get(k) for k in TIMING_KEYS}
            total = (previous or {}).get("measured")
        run_info = {**timing, "concurrency": concurrency, "latency_concurrency": 1,
                    "calls_made": run.calls, "retries": run.retries, "cache_hits": cache_hits,
                    "spend_usd": guard.spent, "spend_unconfirmed_usd": guard.unconfirmed,
                    "stopped_early": run.stopped, "served_by": endpoint.served_by, "stand_in": endpoint.stand_in,
                    "rows_done": len(rows), "rows_total": len(requests),
                    "errors": sum(1 for r in rows if r["error"] is not None)}
        if run.calls:
            write_json(sidecar, {**run_info, "measured": total}, indent=2, sort_keys=True)
    result = {"rows": rows, "run": run_info}
    if run.stopped:
        message = (f"{label}: {run.stopped}; {len(rows)}/{len(requests)} rows done "
                   f"and saved in {store.path}; rerun with a higher cap to finish")
        log(message)
        raise SpendCapReached(message, result)
    log(f"{label}: done, {len(rows)} rows ({run_info['errors']} errors), {run.calls} calls, "
        f"{cache_hits} cache hits, ${guard.spent:.4f}")
    return result


async def _call_pending(run: _Run, pending: list[tuple[PredictionRequest, str]], store: PredictionStore,
                        done: dict[str, dict], *, warmup: int, concurrency: int, latency_probe: int,
                        make: Callable[..., dict]) -> tuple[float, dict] | None:
    """Warm up, probe latency one at a time, then the bulk at ``concurrency``; each row is stored as it completes.
    Returns (wall seconds, {phase: (rows, busy seconds)}) for ``measured.measure``, or None when nothing was due."""
    try:
        if not pending:
            return None
        for i in range(warmup):  # same first request, results discarded, before any clock starts
            _, err = await run.call(pending[0][0], f"warm-up {i + 1}/{warmup}")
            if err:
                run.log(f"warm-up {i + 1}/{warmup} failed: {err[:200]}")

        async def one(request: PredictionRequest, rhash: str, phase: list) -> None:
            result, error = await run.call(request, request.example_id)
            if result is None and error is None:
                return  # spend cap: not done, no row
            row = make(request, rhash, result=result, error=error)
            store.append(row)
            done[rhash] = row
            phase.append(row)
            if error:
                run.log(f"{request.example_id}: error row: {error[:300]}")

        n_probe = min(latency_probe, len(pending)) if concurrency > 1 else len(pending)
        probe_rows: list[dict] = []
        bulk_rows: list[dict] = []
        t0 = time.perf_counter()
        for request, rhash in pending[:n_probe]:
            await one(request, rhash, probe_rows)
        t1 = time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        async def bounded(request: PredictionRequest, rhash: str) -> None:
            async with sem:
                await one(request, rhash, bulk_rows)

        await asyncio.gather(*(bounded(r, h) for r, h in pending[n_probe:]))
        t2 = time.perf_counter()
        return t2 - t0, {"probe": (probe_rows, t1 - t0), "bulk": (bulk_rows, t2 - t1)}
    finally:
        await run.client.close()
