"""OpenAI Batch API mode of API predictions: build the JSONL, submit it once, poll, write rows to the store.

``run_batch_predictions`` is the mode's entry point (``ModelConfig.api_mode == "batch"``): requests already
answered in the prediction store are skipped; the rest go into ONE batch whose JSONL fingerprint is recorded
both in the batch metadata and beside the store, so a rerun after a timeout, a crash or a kill finds the same
batch instead of paying twice. Rows have the runner's shape with ``served_by: "openai-batch"``; latency and
TTFT are not measured (None), and cost takes ``pricing.batch_discount`` off the list price (cached input
tokens at the cached-input price). Every request gets a row: failed lines, lines missing from an expired or
failed batch, and malformed results become error rows that the next run retries.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import PredictionRequest, request_body, request_hash
from baseweight_assets.inference.http_backend import estimate_input_tokens
from baseweight_assets.inference.runner import TIMING_KEYS, make_row
from baseweight_assets.inference.spend import SpendCapReached, SpendLedger, cost_usd
from baseweight_assets.inference.store import DEFAULT_LOCK_TIMEOUT_S, PredictionStore, answered
from baseweight_assets.inference.structured import unwrap_label
from baseweight_assets.redaction import redact
from baseweight_assets.storage.atomic import read_json, write_json, write_text

BATCH_SERVED_BY = "openai-batch"
CHAT_URL = "/v1/chat/completions"
RUNNING = ("validating", "in_progress", "finalizing", "cancelling")
DEAD = ("failed", "expired", "cancelled")  # a batch in these states is never reused by a resubmit


class BatchNotFinished(TimeoutError):
    """The batch was still running at ``timeout_s``; it keeps running and a rerun collects it."""


def build_batch_jsonl(requests: list[PredictionRequest], endpoint: Endpoint) -> tuple[str, str]:
    """(JSONL text, fingerprint). ``custom_id`` is the request hash, so collection maps rows back exactly."""
    lines = []
    for request in requests:
        body = request_body(request, endpoint)  # non-streaming: the Batch API does not stream
        lines.append(json.dumps({"custom_id": request_hash(request, endpoint), "method": "POST", "url": CHAT_URL,
                                 "body": body}, sort_keys=True, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _record_path(jsonl_path: Path) -> Path:
    return Path(jsonl_path).with_name(Path(jsonl_path).name + ".submitted.json")


def _read_record(jsonl_path: Path | None) -> list[dict]:
    """The batches submitted for this store: ``[{"batch_id", "fingerprint", "collected"}]``."""
    path = _record_path(jsonl_path) if jsonl_path is not None else None
    return read_json(path).get("batches", []) if path is not None and path.exists() else []


def _write_record(jsonl_path: Path, entries: list[dict]) -> None:
    write_json(_record_path(jsonl_path), {"batches": entries}, indent=2)


def find_batch(client, fingerprint: str, jsonl_path: Path | None = None) -> str | None:
    """The id of a batch submitted for ``fingerprint`` that is live (not failed/expired/cancelled) and whose
    results were not collected into the store yet, else None.

    The record beside ``jsonl_path`` is checked first (one retrieve per entry); then every batch of the account
    (``batches.list`` pages through all of them) by its ``baseweight_fingerprint`` metadata. A collected batch is
    never reused: its error rows are retried in a new batch."""
    entries = _read_record(jsonl_path)
    collected = {e["batch_id"] for e in entries if e.get("collected")}
    for entry in reversed(entries):
        if entry["fingerprint"] == fingerprint and not entry.get("collected"):
            if client.batches.retrieve(entry["batch_id"]).status not in DEAD:
                return entry["batch_id"]
    for batch in client.batches.list(limit=100):
        if (getattr(batch, "metadata", None) or {}).get("baseweight_fingerprint") == fingerprint and \
                batch.status not in DEAD and batch.id not in collected:
            return batch.id
    return None


def _create_batch(client, text: str, fingerprint: str, jsonl_path: Path) -> str:
    uploaded = client.files.create(file=(Path(jsonl_path).name, io.BytesIO(text.encode("utf-8"))), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h",
                                  metadata={"baseweight_fingerprint": fingerprint})
    entries = [e for e in _read_record(jsonl_path) if e["batch_id"] != batch.id]
    _write_record(jsonl_path, [*entries, {"batch_id": batch.id, "fingerprint": fingerprint, "collected": False}])
    return batch.id


def _mark_collected(jsonl_path: Path, batch_id: str, fingerprint: str) -> None:
    entries = [e for e in _read_record(jsonl_path) if e["batch_id"] != batch_id]
    _write_record(jsonl_path, [*entries, {"batch_id": batch_id, "fingerprint": fingerprint, "collected": True}])


def submit_batch(client, requests: list[PredictionRequest], endpoint: Endpoint, jsonl_path: Path) -> str:
    """Submit once: a live batch with the same fingerprint is reused (resubmits are idempotent)."""
    text, fingerprint = build_batch_jsonl(requests, endpoint)
    write_text(Path(jsonl_path), text)
    return find_batch(client, fingerprint, jsonl_path) or _create_batch(client, text, fingerprint, jsonl_path)


def _lines(client, file_id: str | None) -> list[dict]:
    if not file_id:
        return []
    out = []
    for number, line in enumerate(client.files.content(file_id).text.splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"batch file {file_id}: line {number}: not JSON ({exc})") from None
    return out


def _batch_errors(batch, secret: str | None) -> str:
    data = getattr(getattr(batch, "errors", None), "data", None) or []
    return "; ".join(redact(f"{getattr(e, 'code', None)}: {getattr(e, 'message', None)}", secret) for e in data)[:500]


def collect_batch(client, batch_id: str, requests: list[PredictionRequest], endpoint: Endpoint, *, task_id: str,
                  model_id: str, condition: str, price: ApiPrice | None, batch_discount: float) -> dict | None:
    """None while the batch is still running; else ``{"rows", "run"}`` with one row per request.

    Spend = tokens at list price (cached input tokens at the cached-input price) x (1 - batch_discount)."""
    batch = client.batches.retrieve(batch_id)
    if batch.status in RUNNING:
        return None
    by_hash = {request_hash(r, endpoint): r for r in requests}
    results: dict[str, tuple] = {}
    for item in _lines(client, getattr(batch, "output_file_id", None)) + \
            _lines(client, getattr(batch, "error_file_id", None)):
        results[item.get("custom_id")] = (item.get("response") or {}, item.get("error"))
    secret = getattr(client, "api_key", None)  # the key this client sends
    batch_errors = _batch_errors(batch, secret)
    rows, spend = [], 0.0
    for rhash, request in by_hash.items():
        response, error = results.get(rhash, ({}, None))
        status, body = response.get("status_code"), response.get("body") or {}
        row = make_row(request, rhash, endpoint, task_id=task_id, model_id=model_id, condition=condition,
                       result=None, error=None, served_by=BATCH_SERVED_BY)
        try:
            if rhash not in results:
                raise ValueError(f"no result in batch {batch_id} (status {batch.status})"
                                 + (f": {batch_errors}" if batch_errors else ""))
            if error or status != 200:
                raise ValueError(redact(f"status {status}: {json.dumps(error or body.get('error'))[:500]}", secret))
            choice = body["choices"][0]
            usage = body["usage"]
            content = choice["message"].get("content") or ""
            lps = [t["logprob"] for t in ((choice.get("logprobs") or {}).get("content") or [])]
            cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            row.update(output=unwrap_label(content) if request.response_format else content,
                       input_tokens=int(usage["prompt_tokens"]), output_tokens=int(usage["completion_tokens"]),
                       cached_input_tokens=cached, finish_reason=choice.get("finish_reason"),
                       avg_logprob=sum(lps) / len(lps) if lps else None)
            spend += cost_usd(row["input_tokens"], row["output_tokens"], price, cached_input_tokens=cached,
                              discount=batch_discount)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            row["error"] = f"malformed batch result for {rhash}: {type(exc).__name__}: {exc}"
        except ValueError as exc:
            row["error"] = str(exc)
        rows.append(row)
    run = {**{k: None for k in TIMING_KEYS}, "concurrency": None, "calls_made": len(requests), "cache_hits": 0,
           "spend_usd": spend, "stopped_early": None, "served_by": BATCH_SERVED_BY, "stand_in": endpoint.stand_in,
           "batch_id": batch_id, "batch_status": batch.status, "errors": sum(1 for r in rows if r["error"] is not None)}
    return {"rows": rows, "run": run}


def _worst_case_usd(requests: list[PredictionRequest], price: ApiPrice | None, batch_discount: float) -> float:
    return cost_usd(sum(estimate_input_tokens(r) for r in requests), sum(r.max_tokens for r in requests), price,
                    discount=batch_discount)


def run_batch_predictions(requests: list[PredictionRequest], endpoint: Endpoint, store_path: Path, *, client,
                          task_id: str, model_id: str, condition: str, price: ApiPrice | None,
                          batch_discount: float, poll_interval_s: float, timeout_s: float,
                          log: Callable[[str], None] = print, spend_cap_usd: float | None = None,
                          ledger: SpendLedger | None = None, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
                          sleep: Callable[[float], None] = time.sleep) -> dict:
    """Predict every request through one OpenAI batch, reusing rows already in ``store_path``.

    ``client`` is an ``openai.OpenAI`` (files + batches API). Returns ``{"rows", "run"}`` like
    ``runner.run_predictions`` (``run["served_by"] == "openai-batch"``, ``run["batch"]`` True, timing keys None).
    The store's writer lock is held for the whole run (a second run of the partition waits ``lock_timeout_s``).
    Raises BatchNotFinished after ``timeout_s`` of polling (the batch keeps running; a rerun collects it), and
    SpendCapReached before submitting when the worst-case cost of a new batch exceeds ``spend_cap_usd``, or does not
    fit what is left of ``ledger`` (the main run's or backfill's shared cap): the worst case is reserved there at
    submission and replaced by the billed cost at collection. A batch resumed by a later process is not reserved
    again: the process that submitted it died holding the reservation, which the ledger then counts as spent.
    """
    if poll_interval_s < 0 or timeout_s < 0:
        raise ValueError(f"poll_interval_s and timeout_s must be >= 0, got {poll_interval_s}, {timeout_s}")
    label = f"{task_id}/{model_id}__{condition}"
    store_path = Path(store_path)
    hashes = [request_hash(r, endpoint) for r in requests]
    if len(set(hashes)) != len(hashes):
        raise ValueError(f"{label}: duplicate requests (same example id and body)")
    with PredictionStore(store_path, lock_timeout_s=lock_timeout_s, log=log) as store:
        existing = store.load()
        done = answered(existing, hashes)
        cache_hits = len(done)
        pending = [r for r, h in zip(requests, hashes) if h not in done]
        log(f"{label}: {len(requests)} requests, {cache_hits} cached, {len(pending)} for the Batch API")
        base_run = {**{k: None for k in TIMING_KEYS}, "concurrency": None, "latency_concurrency": None,
                    "retries": 0, "cache_hits": cache_hits, "stopped_early": None, "served_by": BATCH_SERVED_BY,
                    "batch": True, "stand_in": endpoint.stand_in, "rows_total": len(requests)}

        def result(batch_run: dict) -> dict:
            rows = [done[h] for h in hashes if h in done]
            return {"rows": rows, "run": {**base_run, "calls_made": 0, "spend_usd": 0.0, "batch_id": None,
                                          "batch_status": None, **batch_run, "rows_done": len(rows),
                                          "errors": sum(1 for r in rows if r["error"] is not None)}}

        if not pending:
            return result({})
        jsonl_path = store_path.with_name(store_path.name + ".batch.jsonl")
        text, fingerprint = build_batch_jsonl(pending, endpoint)
        batch_id, reservation = find_batch(client, fingerprint, jsonl_path), None
        if batch_id:
            log(f"{label}: resuming batch {batch_id} (fingerprint {fingerprint[:12]})")
        else:
            worst = _worst_case_usd(pending, price, batch_discount)
            if spend_cap_usd is not None and price is not None and worst > spend_cap_usd:
                message = (f"{label}: a batch of {len(pending)} requests could cost up to ${worst:.4f}, above the "
                           f"spend cap ${spend_cap_usd:.2f}; nothing submitted ({cache_hits} rows already in "
                           f"{store_path})")
                raise SpendCapReached(message, result({"stopped_early": message}))
            reservation = ledger.try_reserve(worst) if ledger is not None and price is not None else None
            if ledger is not None and price is not None and reservation is None:
                totals = ledger.totals()
                message = (f"{label}: a batch of {len(pending)} requests could cost up to ${worst:.4f}, more than is "
                           f"left of the run's spend cap (${totals['cap_usd']:.2f}; spent ${totals['spent_usd']:.4f}, "
                           f"reserved ${totals['reserved_usd']:.4f}, ledger {ledger.path}); nothing submitted")
                raise SpendCapReached(message, result({"stopped_early": message}))
            write_text(jsonl_path, text)
            # a failure from here on may have submitted the batch: the reservation stays until collection settles
            # it, or its process dies and the ledger counts it as spent
            batch_id = _create_batch(client, text, fingerprint, jsonl_path)
            log(f"{label}: submitted batch {batch_id} ({len(pending)} requests, fingerprint {fingerprint[:12]})")
        started = time.monotonic()
        while True:
            collected = collect_batch(client, batch_id, pending, endpoint, task_id=task_id, model_id=model_id,
                                      condition=condition, price=price, batch_discount=batch_discount)
            if collected is not None:
                break
            waited = time.monotonic() - started
            if waited >= timeout_s:
                status = client.batches.retrieve(batch_id).status
                raise BatchNotFinished(
                    f"{label}: batch {batch_id} still {status} after {waited:.0f}s (timeout_s={timeout_s}); it "
                    f"keeps running at OpenAI and nothing is lost: rerun to resume, the rerun finds the same batch "
                    f"(fingerprint {fingerprint[:12]}) and collects it")
            sleep(poll_interval_s)

        new_rows = collected["rows"]
        for row in new_rows:
            store.append(row)
            done[row["request_hash"]] = row
        if any(row["request_hash"] in existing for row in new_rows):
            # earlier error rows were superseded: keep one row per request hash
            store.rewrite(list({**existing, **done}.values()))
        _mark_collected(jsonl_path, batch_id, fingerprint)  # after the rows are safe in the store
        if reservation is not None:
            ledger.settle(reservation, collected["run"]["spend_usd"])
    batch_run = {k: collected["run"][k] for k in ("calls_made", "spend_usd", "batch_id", "batch_status")}
    log(f"{label}: batch {batch_id} {collected['run']['batch_status']}, {len(new_rows)} rows "
        f"({collected['run']['errors']} errors), ${batch_run['spend_usd']:.4f}")
    return result(batch_run)
