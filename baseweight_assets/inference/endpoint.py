"""Where requests go: the real OpenAI API, a vLLM server or `transformers serve`, and what each supports."""

from __future__ import annotations

import os
from dataclasses import dataclass

from baseweight_assets.config.schema import ModelConfig

SERVED_BY = ("openai", "vllm", "transformers")
OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    model: str  # the `model` field of each request (API model, vLLM adapter name, or a local folder path)
    api_key_env: str | None
    served_by: str  # "openai" | "vllm" | "transformers"
    stand_in: bool
    supports_logprobs: bool
    supports_json_schema: bool
    supports_guided_choice: bool
    identity: str  # what the cache key uses for the model: model id + revision + adapter sha + served_by

    def __post_init__(self) -> None:
        if self.served_by not in SERVED_BY:
            raise ValueError(f"Endpoint.served_by must be one of {SERVED_BY}, got {self.served_by!r}")

    def api_key(self) -> str:
        """The key from the environment, or a placeholder for local servers (which ignore it)."""
        if self.api_key_env is None:
            return "not-needed"
        value = os.environ.get(self.api_key_env)
        if not value:
            raise RuntimeError(f"endpoint {self.model!r}: environment variable {self.api_key_env} is not set")
        return value


def api_key_configured(model: ModelConfig) -> bool:
    """Whether the real API can be called: its key variable is set in the environment."""
    return bool(os.environ.get(model.api_key_env))


def resolve_api_endpoint(model: ModelConfig, *, stand_in_url: str | None, stand_in_model: str | None) -> Endpoint:
    """Real OpenAI when ``$model.api_key_env`` is set, else the local stand-in (labelled ``stand_in=True``)."""
    if model.kind != "api":
        raise ValueError(f"configs/models/{model.id}.yaml: kind is {model.kind!r}, expected 'api'")
    if api_key_configured(model):
        base_url = model.base_url or OPENAI_BASE_URL
        return Endpoint(
            base_url=base_url,
            model=model.api_model,
            api_key_env=model.api_key_env,
            served_by="openai",
            stand_in=False,
            supports_logprobs=model.supports_logprobs,
            supports_json_schema=model.supports_json_schema,
            supports_guided_choice=False,
            identity=f"openai|{base_url}|{model.api_model}",
        )
    if not stand_in_url or not stand_in_model:
        raise RuntimeError(
            f"configs/models/{model.id}.yaml: ${model.api_key_env} is not set and no stand-in server was given "
            f"(stand_in: {model.stand_in!r}); set the key or start the local stand-in"
        )
    return Endpoint(
        base_url=stand_in_url,
        model=stand_in_model,
        api_key_env=None,
        served_by="transformers",
        stand_in=True,
        supports_logprobs=False,  # transformers serve ignores `logprobs` (verified on 5.24)
        supports_json_schema=False,  # ... and `response_format`
        supports_guided_choice=False,
        identity=f"transformers|{stand_in_model}",
    )


def local_endpoint(model: ModelConfig, *, base_url: str, served_model: str, adapter_sha256: str | None = None,
                   weights_id: str | None = None) -> Endpoint:
    """A local model behind `transformers serve` or `vllm serve` (``model.serving_engine`` picks which)."""
    engine = model.serving_engine
    vllm = engine == "vllm"
    identity = "|".join([engine, model.hf_id or model.id, model.revision or "-", weights_id or "-",
                         adapter_sha256 or "no-adapter"])
    return Endpoint(
        base_url=base_url,
        model=served_model,
        api_key_env=None,
        served_by=engine,
        stand_in=False,
        supports_logprobs=vllm,
        supports_json_schema=vllm,
        supports_guided_choice=vllm,
        identity=identity,
    )
