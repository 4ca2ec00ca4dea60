"""The in-process engine (``engine.LocalEngine``) as a runner backend: local models where vLLM is not installed (the
CPU default, a GPU host without vLLM) and the labelled API stand-in.

The request body is the one a vLLM server would receive (``requests.request_body``): its ``structured_outputs.choice``
becomes the engine's exact label constraint, so hashes, stores and rows are the same shape whichever engine answers.
The engine is built on first use: a cell whose every request is already in the store loads no model at all.
The first ``latency_probe`` requests run one at a time (latency, time to first token); the rest run in full batches,
whose output tokens over their wall time is the saturated throughput the cost model uses. When the cell is too small
to fill a batch, one full batch of its requests (cycled) is run only to measure that throughput, unless
``measure_saturation`` is off (the smoke profile, whose cells are all smaller than a batch and would pay for that
batch again and again): then the cell's own partial batches are the sample, and ``info["saturation"]`` says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from baseweight_assets.inference.client import CallResult
from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import PredictionRequest, request_body
from baseweight_assets.inference.runner import Emit, Session

if TYPE_CHECKING:  # the engine module imports torch: only when an engine is built
    from baseweight_assets.inference.engine import Throughput


def engine_request(request: PredictionRequest, body: dict, adapter: str | None):
    from baseweight_assets.inference.engine import EngineRequest

    choice = (body.get("structured_outputs") or {}).get("choice")
    return EngineRequest(messages=request.messages, max_new_tokens=request.max_tokens, adapter=adapter,
                         allowed_outputs=list(choice) if choice else None, logprobs=bool(body.get("logprobs")),
                         chat_template_kwargs=body.get("chat_template_kwargs"))


def call_result(result, latency_s: float | None = None, ttft_s: float | None = None) -> CallResult:
    return CallResult(output=result.text, input_tokens=result.input_tokens, output_tokens=result.output_tokens,
                      latency_s=latency_s, ttft_s=ttft_s, avg_logprob=result.avg_logprob,
                      finish_reason=result.finish_reason)


class SharedEngine:
    """One ``LocalEngine`` per step, built on first use, with every adapter the step needs loaded once by name."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory

    @cached_property
    def engine(self):
        return self._factory()

    def built(self) -> bool:
        return "engine" in self.__dict__

    def close(self) -> None:
        if self.built():
            self.engine.close()


def _sample(t: Throughput) -> dict:
    return {"queries": t.rows, "output_tokens": t.output_tokens, "busy_s": t.wall_s}


class EngineBackend:
    def __init__(self, endpoint: Endpoint, shared: SharedEngine, *, adapter: str | None = None,
                 measure_saturation: bool = True) -> None:
        self.endpoint, self.shared, self.adapter = endpoint, shared, adapter
        self.measure_saturation = measure_saturation

    @property
    def measure_key(self) -> dict:
        return {"identity": self.endpoint.identity, "engine": "local"}

    def answer(self, pending: list[tuple[PredictionRequest, str]], emit: Emit, *, latency_probe: int,
               log: Callable[[str], None]) -> Session:
        engine = self.shared.engine
        requests = [engine_request(r, request_body(r, self.endpoint), self.adapter) for r, _ in pending]
        n_probe = min(latency_probe, len(pending))
        t0 = time.perf_counter()
        probe = engine.probe_latency(requests, n_probe)
        for i, result in enumerate(probe.results):
            emit(*pending[i], call_result(result, probe.latency_s[i], probe.ttft_s[i]), None, "probe")
        t1 = time.perf_counter()

        def stored(indices: list[int], results: list) -> None:
            for i, result in zip(indices, results):
                emit(*pending[n_probe + i], call_result(result), None, "bulk")

        engine.generate(requests[n_probe:], on_batch_done=stored)
        t2 = time.perf_counter()
        batches = engine.last_run.batches
        own = engine.last_run.throughput()
        full = own.batches if own is not None and own.all_full else 0
        saturated, basis = None, None
        if full:
            saturated, basis = _sample(own), "full batches of the cell"
        elif self.measure_saturation and requests:
            sat = engine.saturated_throughput(requests[n_probe:] or requests, batches=1)
            log(f"saturated throughput measured on one full batch of {sat.rows} requests: "
                f"{sat.requests_per_s:.2f} req/s, {sat.output_tokens_per_s:.1f} output tok/s")
            saturated = _sample(sat)
            basis = f"one full batch of {sat.rows} requests, run to measure it"
        elif own is not None:
            saturated = _sample(own)
            basis = (f"the cell's partial batches (largest {max(b.rows for b in batches)} rows; a full batch is "
                     f"{engine.max_batch_size}): a lower bound on throughput, an upper bound on cost")
        info = {"engine": engine.describe(), "latency_concurrency": 1, "latency_probe_n": probe.n,
                "batches": len(batches), "full_batches": full, "saturation": basis}
        return Session(wall_s=t2 - t0, busy_s={"probe": t1 - t0, "bulk": t2 - t1}, calls=len(pending),
                       saturated=saturated, info=info)
