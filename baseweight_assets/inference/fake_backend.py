"""A deterministic fake model endpoint for tests and the fixture graph (``BASEWEIGHT_API=fake``): no weights, no
network, the same request shapes and rows as the real backends.

Closed-label requests get one of their allowed labels, picked by a hash of the example id (so a cell's answers
vary and its metric is neither 0 nor 1 by construction); open requests get a short fixed text. Outputs never depend
on the gold answer: the fake cannot know it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from baseweight_assets.inference.client import CallResult
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import PredictionRequest, request_body
from baseweight_assets.inference.runner import Emit, Session

OPEN_ANSWER = "Not found."


def fake_answer(request: PredictionRequest, body: dict) -> str:
    choice = (body.get("structured_outputs") or {}).get("choice") or request.guided_choice
    if choice:
        digest = int(hashlib.sha256(request.example_id.encode()).hexdigest(), 16)
        return choice[digest % len(choice)]
    return OPEN_ANSWER


class FakeBackend:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    @property
    def measure_key(self) -> dict:
        return {"identity": self.endpoint.identity}

    def answer(self, pending: list[tuple[PredictionRequest, str]], emit: Emit, *, latency_probe: int,
               log: Callable[[str], None]) -> Session:
        for i, (request, rhash) in enumerate(pending):
            text = fake_answer(request, request_body(request, self.endpoint))
            words = sum(len(str(m.get("content", "")).split()) for m in request.messages)
            emit(request, rhash, CallResult(output=text, input_tokens=words, output_tokens=len(text.split()),
                                            latency_s=0.001, ttft_s=0.0005, avg_logprob=-0.1, finish_reason="stop"),
                 None, "probe" if i < latency_probe else "bulk")
        n = len(pending)
        return Session(wall_s=0.001 * n, busy_s={"probe": 0.001 * min(n, latency_probe),
                                                 "bulk": 0.001 * max(0, n - latency_probe)},
                       calls=n, saturated={"queries": n, "output_tokens": n, "busy_s": 0.001 * n})
