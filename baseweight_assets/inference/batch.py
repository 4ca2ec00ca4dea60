"""OpenAI Batch API mode: build the JSONL, submit it (idempotently), collect rows in the usual schema.

Batch rows are marked ``served_by: "openai-batch"`` so the cost tables apply ``pricing.batch_discount``;
latency and TTFT are not measured (None). Every request gets a row: failures and no-shows are error rows.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from baseweight_assets.config.schema import ApiPrice
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.redaction import redact
from baseweight_assets.inference.requests import PredictionRequest, request_body, request_hash
from baseweight_assets.inference.runner import make_row
from baseweight_assets.inference.spend import cost_usd
from baseweight_assets.storage.atomic import write_text
from baseweight_assets.inference.structured import unwrap_label

BATCH_SERVED_BY = "openai-batch"
CHAT_URL = "/v1/chat/completions"


def build_batch_jsonl(requests: list[PredictionRequest], endpoint: Endpoint) -> tuple[str, str]:
    """(JSONL text, fingerprint). ``custom_id`` is the request hash, so collection maps rows back exactly."""
    lines = []
    for request in requests:
        body = request_body(request, endpoint)  # non-streaming: the Batch API does not stream
        lines.append(json.dumps({"custom_id": request_hash(request, endpoint), "method": "POST", "url": CHAT_URL,
                                 "body": body}, sort_keys=True, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def submit_batch(client, requests: list[PredictionRequest], endpoint: Endpoint, jsonl_path: Path) -> str:
    """Submit once: a batch whose metadata carries the same fingerprint is reused (resubmits are idempotent)."""
    text, fingerprint = build_batch_jsonl(requests, endpoint)
    write_text(Path(jsonl_path), text)
    for batch in client.batches.list(limit=100):
        if (getattr(batch, "metadata", None) or {}).get("baseweight_fingerprint") == fingerprint and \
                batch.status not in ("failed", "expired", "cancelled"):
            return batch.id
    uploaded = client.files.create(file=(Path(jsonl_path).name, io.BytesIO(text.encode("utf-8"))), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h",
                                  metadata={"baseweight_fingerprint": fingerprint})
    return batch.id


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


def collect_batch(client, batch_id: str, requests: list[PredictionRequest], endpoint: Endpoint, *, task_id: str,
                  model_id: str, condition: str, price: ApiPrice | None, batch_discount: float) -> dict | None:
    """None while the batch is still running; else ``{"rows", "run"}`` like ``run_predictions``."""
    batch = client.batches.retrieve(batch_id)
    if batch.status in ("validating", "in_progress", "finalizing"):
        return None
    by_hash = {request_hash(r, endpoint): r for r in requests}
    results: dict[str, tuple] = {}
    for item in _lines(client, getattr(batch, "output_file_id", None)) + \
            _lines(client, getattr(batch, "error_file_id", None)):
        results[item.get("custom_id")] = (item.get("response") or {}, item.get("error"))
    rows, spend = [], 0.0
    for rhash, request in by_hash.items():
        response, error = results.get(rhash, ({}, None))
        status, body = response.get("status_code"), response.get("body") or {}
        row = make_row(request, rhash, endpoint, task_id=task_id, model_id=model_id, condition=condition,
                       result=None, error=None, served_by=BATCH_SERVED_BY)
        try:
            if rhash not in results:
                raise ValueError(f"no result in batch {batch_id} (status {batch.status})")
            if error or status != 200:
                raise ValueError(redact(f"status {status}: {json.dumps(error or body.get('error'))[:500]}"))
            choice = body["choices"][0]
            usage = body["usage"]
            content = choice["message"].get("content") or ""
            lps = [t["logprob"] for t in ((choice.get("logprobs") or {}).get("content") or [])]
            row.update(output=unwrap_label(content) if request.response_format else content, input_tokens=int(usage["prompt_tokens"]),
                       output_tokens=int(usage["completion_tokens"]),
                       avg_logprob=sum(lps) / len(lps) if lps else None)
            spend += cost_usd(row["input_tokens"], row["output_tokens"], price, discount=batch_discount)
        except (KeyError, IndexError, TypeError) as exc:
            row["error"] = f"malformed batch result for {rhash}: {type(exc).__name__}: {exc}"
        except ValueError as exc:
            row["error"] = str(exc)
        rows.append(row)
    run = {"wall_s": None, "throughput_qps": None, "output_tokens_per_s": None, "latency_p50_s": None,
           "latency_p95_s": None, "ttft_p50_s": None, "concurrency": None, "calls_made": len(requests),
           "cache_hits": 0, "spend_usd": spend, "stopped_early": None, "served_by": BATCH_SERVED_BY,
           "stand_in": endpoint.stand_in, "batch_id": batch_id, "batch_status": batch.status,
           "errors": sum(1 for r in rows if r["error"])}
    return {"rows": rows, "run": run}
