"""Where the engine backend's cost sample (saturated throughput) comes from: the cell's full batches; else one full
batch run only to measure it; else, with that measurement off (the smoke profile), the cell's own partial batches,
labelled as a lower bound. A stand-in engine records what it was asked, so no model is loaded."""

from __future__ import annotations

from types import SimpleNamespace

from inf_helpers import make_requests

from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.engine import BatchStats, LatencyProbe, RunStats, Throughput
from baseweight_assets.inference.engine_backend import EngineBackend

EP = Endpoint(base_url=None, model="m", api_key_env=None, served_by="engine", stand_in=False,
              supports_logprobs=True, supports_json_schema=False, supports_guided_choice=True, identity="engine|m")


class RecordingEngine:
    max_batch_size = 32

    def __init__(self, batch_rows: list[int], full: bool) -> None:
        self.batch_rows, self.full, self.saturation_calls = batch_rows, full, 0

    def _result(self):
        return SimpleNamespace(text="a", input_tokens=5, output_tokens=2, avg_logprob=-0.1, finish_reason="stop")

    def probe_latency(self, requests, n):
        return LatencyProbe(n, (0.1,) * n, (0.01,) * n, tuple(self._result() for _ in range(n)))

    def generate(self, requests, on_batch_done=None):
        results = [self._result() for _ in requests]
        if on_batch_done:
            on_batch_done(list(range(len(requests))), results)
        self.last_run = RunStats(batches=[BatchStats(r, self.full, None, 0, 10 * r, 2 * r, 0.5)
                                          for r in self.batch_rows])
        return results

    def saturated_throughput(self, requests, batches=1):
        self.saturation_calls += 1
        return Throughput(32, 1, 64, 2.0, 32.0, 16.0, True)

    def describe(self):
        return {"engine": "recording"}


def _answer(engine, measure_saturation: bool):
    backend = EngineBackend(EP, SimpleNamespace(engine=engine), measure_saturation=measure_saturation)
    pending = [(r, f"h{i}") for i, r in enumerate(make_requests([f"t{i}" for i in range(12)]))]
    emitted = []
    session = backend.answer(pending, lambda *a: emitted.append(a), latency_probe=3, log=lambda m: None)
    assert len(emitted) == 12
    return session


def test_full_batches_of_the_cell_are_the_sample():
    engine = RecordingEngine([9], full=True)
    session = _answer(engine, measure_saturation=True)
    assert engine.saturation_calls == 0 and session.saturated == {"queries": 9, "output_tokens": 18, "busy_s": 0.5}
    assert session.info["saturation"] == "full batches of the cell"


def test_a_cell_that_fills_no_batch_runs_one_full_batch_to_measure_it():
    engine = RecordingEngine([9], full=False)
    session = _answer(engine, measure_saturation=True)
    assert engine.saturation_calls == 1 and session.saturated == {"queries": 32, "output_tokens": 64, "busy_s": 2.0}
    assert session.info["saturation"].startswith("one full batch of 32")


def test_without_the_measurement_the_cells_partial_batches_are_the_labelled_sample():
    engine = RecordingEngine([5, 4], full=False)
    session = _answer(engine, measure_saturation=False)
    assert engine.saturation_calls == 0  # no batch run only to measure
    assert session.saturated == {"queries": 9, "output_tokens": 18, "busy_s": 1.0}
    assert session.info["saturation"].startswith("the cell's partial batches (largest 5 rows; a full batch is 32)")
