"""Which backend answers a cell, decided in one place.

Local models: a vLLM server where vLLM is installed or ``BASEWEIGHT_VLLM_URL`` names one (``serving_engine: auto``),
else the in-process engine; ``serving_engine: engine`` or ``vllm`` forces one. API models: the real API when their
key exists and ``BASEWEIGHT_API`` is ``auto``; else the labelled stand-in (the engine on the configured local model);
``fake`` answers with ``FakeBackend``. LoRA cells trained under several seeds get one backend per seed, all served
by one engine (or one vLLM server) with every seed's adapter loaded once by name.

Everything heavy is lazy: a cell whose requests are all in the store starts no server and loads no weights.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.inference.endpoint import engine_endpoint, fake_endpoint, openai_endpoint, vllm_endpoint
from baseweight_assets.inference.engine_backend import EngineBackend, SharedEngine
from baseweight_assets.inference.fake_backend import FakeBackend

VLLM_MAX_MODEL_LEN = 4096  # longest prompt (a long-context window + few-shot) plus the longest output fits


@dataclass(frozen=True)
class Adapter:
    """One trained adapter a cell is answered with (seed None: the base model)."""

    seed: int | None
    path: Path | None
    sha256: str | None

    @property
    def name(self) -> str | None:
        return None if self.path is None else f"seed-{self.seed}"


@dataclass(frozen=True)
class Answerer:
    backend: object  # runner.Backend
    seed: int | None


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def uses_vllm(model: ModelConfig, vllm_url: str | None) -> bool:
    if model.serving_engine == "engine":
        return False
    if model.serving_engine == "vllm":
        return True
    return bool(vllm_url) or vllm_installed()


def vllm_adapter_name(task_id: str, variant: str, seed: int | None) -> str:
    """The name an adapter is registered under in `vllm serve --lora-modules NAME=PATH`."""
    return f"{task_id}--{variant}" + ("" if not seed else f"--seed{seed}")


@contextmanager
def local_answerers(model: ModelConfig, base_dir: Path, weights: dict, adapters: list[Adapter], *,
                    task_id: str, variant: str, vllm_url: str | None, server_log: Path,
                    vllm_startup_timeout_s: float = 1200, http_kwargs: dict | None = None,
                    measure_saturation: bool = True) -> Iterator[list[Answerer]]:
    """One answerer per adapter (``[Adapter(None, None, None)]`` for prompted cells), sharing one engine/server."""
    with ExitStack() as stack:
        if uses_vllm(model, vllm_url):
            from baseweight_assets.inference.vllm_backend import LazyVllmServer, VllmBackend

            names = {a.name: vllm_adapter_name(task_id, variant, a.seed) for a in adapters if a.path}
            server = stack.enter_context(LazyVllmServer(
                base_dir, model.revision or "main", {names[a.name]: a.path for a in adapters if a.path},
                server_log, url=vllm_url, max_model_len=VLLM_MAX_MODEL_LEN, startup_timeout_s=vllm_startup_timeout_s))
            yield [Answerer(VllmBackend(server, vllm_endpoint(model, weights, base_url="http://served-lazily/v1",
                                                              served_model=names.get(a.name) or str(base_dir),
                                                              adapter_sha256=a.sha256), **(http_kwargs or {})),
                            a.seed) for a in adapters]
            return
        shared = SharedEngine(lambda: _engine(base_dir, {a.name: a.path for a in adapters if a.path}))
        stack.callback(shared.close)
        yield [Answerer(EngineBackend(engine_endpoint(model, weights, adapter_sha256=a.sha256), shared,
                                      adapter=a.name, measure_saturation=measure_saturation), a.seed)
               for a in adapters]


@contextmanager
def api_answerer(model: ModelConfig, *, live: bool, fake: bool, stand_in: ModelConfig | None,
                 stand_in_dir: Path | None, stand_in_weights: dict | None,
                 http_kwargs: dict | None = None, measure_saturation: bool = True) -> Iterator[Answerer]:
    """The real API, the fake, or the labelled stand-in (the engine on ``stand_in``)."""
    if fake:
        yield Answerer(FakeBackend(fake_endpoint(model)), None)
        return
    if live:
        from baseweight_assets.inference.http_backend import HttpBackend

        yield Answerer(HttpBackend(openai_endpoint(model), **(http_kwargs or {})), None)
        return
    if stand_in is None or stand_in_dir is None:
        raise RuntimeError(f"configs/models/{model.id}.yaml: ${model.api_key_env} is not set and no stand_in model "
                           "is configured; set the key or name a local stand_in")
    shared = SharedEngine(lambda: _engine(stand_in_dir, {}))
    try:
        yield Answerer(EngineBackend(engine_endpoint(stand_in, stand_in_weights or {}, stand_in_for=model), shared,
                                     measure_saturation=measure_saturation), None)
    finally:
        shared.close()


def _engine(base_dir: Path, adapters: dict[str, Path]):
    from baseweight_assets.inference.engine import LocalEngine

    return LocalEngine(base_dir, adapters=adapters)
