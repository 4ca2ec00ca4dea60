"""Run a partition's requests through one backend: answers already in the prediction store are reused, the rest are
answered and each row is appended (fsync) as it arrives; failures become error rows, never wrong answers.

A backend (``HttpBackend`` for the OpenAI API and vLLM servers, ``EngineBackend`` for the in-process engine,
``FakeBackend`` for tests) only answers pending requests and says how long its phases took; everything about the
store, resume, measurement across sessions and the run summary is here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from baseweight_assets.inference import measured
from baseweight_assets.inference.client import CallResult
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.measured import TIMING_KEYS
from baseweight_assets.inference.requests import PredictionRequest, request_hash
from baseweight_assets.inference.spend import SpendCapReached
from baseweight_assets.inference.store import DEFAULT_LOCK_TIMEOUT_S, PredictionStore, answered
from baseweight_assets.inference.structured import unwrap_label
from baseweight_assets.storage.atomic import read_json, write_json

# emit(request, request hash, result or None, error or None, phase): one answer, stored at once
Emit = Callable[[PredictionRequest, str, "CallResult | None", "str | None", str], None]


@dataclass
class Session:
    """What one backend session did: wall and busy seconds per phase ("probe": concurrency 1, "bulk"), calls, the
    money it spent, why it stopped early (a spending cap) and, for engines, its saturated throughput sample."""

    wall_s: float = 0.0
    busy_s: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    retries: int = 0
    spend_usd: float = 0.0
    spend_unconfirmed_usd: float = 0.0
    stopped: str | None = None
    saturated: dict | None = None  # {"queries", "output_tokens", "busy_s"} of full batches
    info: dict = field(default_factory=dict)


class Backend(Protocol):
    endpoint: Endpoint

    @property
    def measure_key(self) -> dict: ...

    def answer(self, pending: list[tuple[PredictionRequest, str]], emit: Emit, *, latency_probe: int,
               log: Callable[[str], None]) -> Session: ...


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


def predict(requests: list[PredictionRequest], backend: Backend, store_path: Path, *, task_id: str, model_id: str,
            condition: str, latency_probe: int = 8, retry_errors: bool = True,
            lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S, log: Callable[[str], None] = print,
            row_extra: dict | None = None) -> dict:
    """Answer every request, reusing rows already in ``store_path``: ``{"rows", "run"}`` (docs/ARCHITECTURE.md).

    The first ``latency_probe`` pending requests are answered one at a time (latency, TTFT); the rest as the backend
    answers in bulk. Measurements add to what earlier sessions of the partition measured (``measured``). Error rows
    are asked again on the next run when ``retry_errors``. The store is locked for the whole run: a concurrent run of
    the same partition waits up to ``lock_timeout_s`` and then finds these rows answered. ``row_extra`` is added to
    every new row (e.g. the training seed of the adapter that answered). Raises SpendCapReached (after storing every
    finished row) when a spending cap stopped the backend; its ``result`` is the partial result.
    """
    endpoint = backend.endpoint
    label = f"{task_id}/{model_id}__{condition}"
    hashes = [request_hash(r, endpoint) for r in requests]
    if len(set(hashes)) != len(hashes):
        raise ValueError(f"{label}: duplicate requests (same example id and body)")
    with PredictionStore(store_path, lock_timeout_s=lock_timeout_s, log=log) as store:
        existing = store.load()
        done = answered(existing, hashes, retry_errors)
        cache_hits = len(done)
        pending = [(r, h) for r, h in zip(requests, hashes) if h not in done]
        log(f"{label}: {len(requests)} requests, {cache_hits} cached, {len(pending)} to answer with "
            f"{endpoint.served_by}{' (stand-in)' if endpoint.stand_in else ''}")
        phases: dict[str, list[dict]] = {"probe": [], "bulk": []}

        def emit(request: PredictionRequest, rhash: str, result: CallResult | None, error: str | None,
                 phase: str) -> None:
            row = make_row(request, rhash, endpoint, task_id=task_id, model_id=model_id, condition=condition,
                           result=result, error=error)
            row.update(row_extra or {})
            store.append(row)
            done[rhash] = row
            phases[phase].append(row)
            if error:
                log(f"{request.example_id}: error row: {error[:300]}")

        session = backend.answer(pending, emit, latency_probe=latency_probe, log=log) if pending else Session()
        rows = [done[h] for h in hashes if h in done]
        if store.corrupt or any(h in existing and done.get(h) is not existing[h] for h in hashes):
            # An earlier error row was superseded, or corrupt lines were skipped: rewrite one row per hash (rows
            # of other requests are kept; corrupt lines go to the .corrupt sidecar).
            store.rewrite(list({**existing, **done}.values()))
        sidecar = store.path.with_name(store.path.name + ".run.json")
        previous = read_json(sidecar) if sidecar.exists() else None
        if pending:
            total = measured.merge((previous or {}).get("measured"), measured.measure(
                backend.measure_key, session.wall_s,
                {name: (phases[name], session.busy_s.get(name, 0.0)) for name in phases},
                saturated=session.saturated))
            timing = measured.timing(total)
        else:  # nothing answered now: keep what was measured when the rows were made
            total = (previous or {}).get("measured")
            timing = {k: (previous or {}).get(k) for k in TIMING_KEYS}
        run_info = {**timing, **session.info, "calls_made": session.calls, "retries": session.retries,
                    "cache_hits": cache_hits, "spend_usd": session.spend_usd,
                    "spend_unconfirmed_usd": session.spend_unconfirmed_usd, "stopped_early": session.stopped,
                    "served_by": endpoint.served_by, "stand_in": endpoint.stand_in, "rows_done": len(rows),
                    "rows_total": len(requests), "errors": sum(1 for r in rows if r["error"] is not None)}
        if session.calls:
            write_json(sidecar, {**run_info, "measured": total}, indent=2, sort_keys=True)
    result = {"rows": rows, "run": run_info}
    if session.stopped:
        message = (f"{label}: {session.stopped}; {len(rows)}/{len(requests)} rows done "
                   f"and saved in {store.path}; rerun with a higher cap to finish")
        log(message)
        raise SpendCapReached(message, result)
    log(f"{label}: done, {len(rows)} rows ({run_info['errors']} errors), {session.calls} calls, "
        f"{cache_hits} cache hits, ${session.spend_usd:.4f}")
    return result


def run_predictions(requests: list[PredictionRequest], endpoint: Endpoint, store_path: Path, *, task_id: str,
                    model_id: str, condition: str, concurrency: int, timeout_s: float, max_attempts: int,
                    warmup: int, price=None, spend_cap_usd: float | None, rpm: int | None, tpm: int | None,
                    log: Callable[[str], None] = print, retry_policy=None, breaker=None, latency_probe: int = 8,
                    retry_errors: bool = True, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
                    ledger=None) -> dict:
    """``predict`` through an OpenAI-compatible endpoint (``http_backend.HttpBackend``): the OpenAI API or a vLLM
    server, with retries, the circuit breaker, pacing and the spending caps (``spend_cap_usd`` for this partition,
    ``ledger`` for the whole main run)."""
    from baseweight_assets.inference.http_backend import HttpBackend

    backend = HttpBackend(endpoint, concurrency=concurrency, timeout_s=timeout_s, max_attempts=max_attempts,
                          warmup=warmup, price=price, spend_cap_usd=spend_cap_usd, rpm=rpm, tpm=tpm,
                          retry_policy=retry_policy, breaker=breaker, ledger=ledger)
    return predict(requests, backend, store_path, task_id=task_id, model_id=model_id, condition=condition,
                   latency_probe=latency_probe, retry_errors=retry_errors,
                   lock_timeout_s=lock_timeout_s, log=log)
