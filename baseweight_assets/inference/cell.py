"""Predictions of one cell (task × model × condition): the requests its condition asks for, answered by each of its
answerers (one per training seed for a LoRA cell), into the cell's prediction store.

Rows of a LoRA cell carry the ``seed`` of the adapter that answered. The value is the predictions record
(docs/ARCHITECTURE.md): the rows, and the run information of the first answerer (its latency probe, saturated
throughput, calls and spend), plus every seed's run when there are several.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from baseweight_assets.config.schema import ModelConfig, TaskConfig
from baseweight_assets.inference.backends import Answerer
from baseweight_assets.inference.requests import build_requests
from baseweight_assets.inference.runner import predict


def predict_cell(*, task: TaskConfig, prepared: dict, prompt, model: ModelConfig, condition: str,
                 answerers: list[Answerer], store_path: Path, max_tokens: int, constrained: bool,
                 latency_probe: int, log: Callable[[str], None] = print, variant: str,
                 hardware: str | None = None) -> dict:
    """Answer a cell's requests with each answerer (one per training seed of a LoRA cell); ``hardware`` is the
    pricing id of the machine that answered (None for an API), recorded on every pass."""
    rows, runs = [], []
    for i, answerer in enumerate(answerers):
        requests = build_requests(task, prepared, prompt, model, condition, max_tokens=max_tokens,
                                  constrained=constrained, endpoint=answerer.backend.endpoint)
        result = predict(requests, answerer.backend, store_path, task_id=task.id, model_id=model.id,
                         condition=condition, latency_probe=latency_probe if i == 0 else 0, log=log,
                         row_extra=None if answerer.seed is None else {"seed": answerer.seed})
        rows += result["rows"]
        runs.append({**result["run"], "seed": answerer.seed, "hardware": hardware})
    return {"status": "ok", "reason": None, "task": task.id, "variant": variant, "rows": rows, "run": runs[0],
            "seeds": [a.seed for a in answerers if a.seed is not None],
            "per_seed_runs": runs if len(runs) > 1 else None}
