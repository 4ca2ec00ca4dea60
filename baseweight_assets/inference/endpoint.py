"""Who answers a cell's requests, and what that answerer supports: the real OpenAI API, a vLLM server, the in-process
engine (local models without vLLM, and the labelled API stand-in) or the fake (tests).

An ``Endpoint`` decides the exact request body (``requests.request_body``) and, through ``identity``, the request hash
that keys the prediction store: the model, its revision and weights, the adapter's sha256 and who serves it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from baseweight_assets.config.schema import ModelConfig

SERVED_BY = ("openai", "vllm", "engine", "fake")
OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    model: str  # the `model` field of each request (API model, vLLM adapter name, or the engine's model id)
    api_key_env: str | None
    served_by: str  # one of SERVED_BY
    stand_in: bool
    supports_logprobs: bool
    supports_json_schema: bool
    supports_guided_choice: bool
    identity: str  # what the cache key uses for the model: model id + revision + weights + adapter sha + served_by

    def __post_init__(self) -> None:
        if self.served_by not in SERVED_BY:
            raise ValueError(f"Endpoint.served_by must be one of {SERVED_BY}, got {self.served_by!r}")

    def api_key(self) -> str:
        """The key, read from the environment at the moment of the call (so it never enters config, run metadata
        or logs; Settings only decides whether it exists), or a placeholder for local servers."""
        if self.api_key_env is None:
            return "not-needed"
        value = os.environ.get(self.api_key_env)
        if not value:
            raise RuntimeError(f"endpoint {self.model!r}: environment variable {self.api_key_env} is not set")
        return value


def _local_identity(served_by: str, model: ModelConfig, weights: dict, adapter_sha256: str | None) -> str:
    return "|".join([served_by, weights.get("hf_id") or model.id, weights.get("revision") or "-",
                     weights.get("weights") or "-", adapter_sha256 or "no-adapter"])


def openai_endpoint(model: ModelConfig) -> Endpoint:
    """The real API for an API model (its key must exist: ``Settings.api_is_live``)."""
    if model.kind != "api":
        raise ValueError(f"configs/models/{model.id}.yaml: kind is {model.kind!r}, expected 'api'")
    base_url = model.base_url or OPENAI_BASE_URL
    return Endpoint(base_url=base_url, model=model.api_model, api_key_env=model.api_key_env, served_by="openai",
                    stand_in=False, supports_logprobs=model.supports_logprobs,
                    supports_json_schema=model.supports_json_schema, supports_guided_choice=False,
                    identity=f"openai|{base_url}|{model.api_model}")


def engine_endpoint(model: ModelConfig, weights: dict, *, adapter_sha256: str | None = None,
                    stand_in_for: ModelConfig | None = None) -> Endpoint:
    """The in-process engine serving ``model`` (with an adapter, or as the labelled stand-in of an API model).
    Closed labels are constrained exactly (``structured_outputs.choice``, the field vLLM takes), logprobs reported."""
    identity = _local_identity("engine", model, weights, adapter_sha256)
    if stand_in_for is not None:
        identity = f"stand-in:{stand_in_for.id}|{identity}"
    return Endpoint(base_url=None, model=model.id, api_key_env=None, served_by="engine",
                    stand_in=stand_in_for is not None, supports_logprobs=True, supports_json_schema=False,
                    supports_guided_choice=True, identity=identity)


def vllm_endpoint(model: ModelConfig, weights: dict, *, base_url: str, served_model: str,
                  adapter_sha256: str | None = None) -> Endpoint:
    """A vLLM server (``vllm serve``, or BASEWEIGHT_VLLM_URL); LoRA cells request their adapter by name."""
    return Endpoint(base_url=base_url, model=served_model, api_key_env=None, served_by="vllm", stand_in=False,
                    supports_logprobs=True, supports_json_schema=True, supports_guided_choice=True,
                    identity=_local_identity("vllm", model, weights, adapter_sha256))


def fake_endpoint(model: ModelConfig, *, adapter_sha256: str | None = None) -> Endpoint:
    """The deterministic fake (tests, the fixture graph): same request shapes as the engine."""
    return Endpoint(base_url=None, model=model.id, api_key_env=None, served_by="fake", stand_in=model.kind == "api",
                    supports_logprobs=True, supports_json_schema=False, supports_guided_choice=True,
                    identity=f"fake|{model.id}|{adapter_sha256 or 'no-adapter'}")
