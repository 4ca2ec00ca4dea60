"""vLLM as a runner backend: one ``vllm serve`` per cell step with every adapter loaded by name, started only when a
request is actually due (or an existing server at ``BASEWEIGHT_VLLM_URL``), answered through the HTTP backend.

The request fields vLLM receives (``structured_outputs.choice`` for closed labels, ``logprobs``, ``max_tokens``,
``chat_template_kwargs``) are the ones of the pinned vLLM release (pyproject's ``gpu`` extra and
``constraints/gpu.txt``); ``tests/inference/test_vllm_request.py`` pins the exact request a server receives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import PredictionRequest
from baseweight_assets.inference.runner import Emit, Session


class LazyVllmServer:
    """``url`` when given; else ``vllm serve`` started on first ``base_url()`` and stopped on exit."""

    def __init__(self, base_model: Path, revision: str, adapters: dict[str, Path], log_path: Path, *,
                 url: str | None, max_model_len: int, startup_timeout_s: float) -> None:
        self.base_model, self.revision, self.adapters, self.log_path = base_model, revision, adapters, log_path
        self.url, self.max_model_len, self.startup_timeout_s = url, max_model_len, startup_timeout_s
        self._server = None

    def base_url(self) -> str:
        if self.url:
            return self.url
        if self._server is None:
            from baseweight_assets.inference.servers import VllmServer

            server = VllmServer(self.log_path, str(self.base_model), self.revision, self.adapters,
                                max_model_len=self.max_model_len, startup_timeout_s=self.startup_timeout_s)
            self._server = server.__enter__()
        return self._server.base_url

    def __enter__(self) -> LazyVllmServer:
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.__exit__(*exc)
            self._server = None


class VllmBackend:
    def __init__(self, server: LazyVllmServer, endpoint: Endpoint, **http_kwargs) -> None:
        self.server, self.endpoint, self.http_kwargs = server, endpoint, http_kwargs

    @property
    def measure_key(self) -> dict:
        return {"identity": self.endpoint.identity, "concurrency": self.http_kwargs.get("concurrency")}

    def answer(self, pending: list[tuple[PredictionRequest, str]], emit: Emit, *, latency_probe: int,
               log: Callable[[str], None]) -> Session:
        from baseweight_assets.inference.http_backend import HttpBackend

        live = dataclasses.replace(self.endpoint, base_url=self.server.base_url())
        return HttpBackend(live, **self.http_kwargs).answer(pending, emit, latency_probe=latency_probe, log=log)
