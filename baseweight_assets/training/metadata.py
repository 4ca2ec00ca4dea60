"""What an adapter records about itself: sizes, histories, hardware, cost, versions and hashes."""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
from pathlib import Path
from typing import Any

METADATA_FILE = "baseweight_training.json"
_LIBRARIES = ("torch", "transformers", "peft", "trl", "accelerate", "bitsandbytes", "unsloth", "flash-attn")


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def adapter_sha256(adapter_dir: Path) -> str:
    """sha256 over (name, bytes) of every adapter file except our own metadata JSON, in name order."""
    h = hashlib.sha256()
    files = sorted(p for p in Path(adapter_dir).iterdir() if p.is_file() and p.name != METADATA_FILE)
    if not files:
        raise FileNotFoundError(f"{adapter_dir}: no adapter files to hash")
    for p in files:
        h.update(p.name.encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def loss_histories(log_history: list[dict]) -> tuple[list[dict], list[dict]]:
    """Split the Trainer's log history into train-loss and validation-loss points."""
    train, val = [], []
    for entry in log_history:
        step, epoch = entry.get("step"), entry.get("epoch")
        if "loss" in entry:
            train.append({"step": step, "epoch": epoch, "loss": _num(entry["loss"])})
        if "eval_loss" in entry:
            val.append({"step": step, "epoch": epoch, "loss": _num(entry["eval_loss"])})
    return train, val


def _num(value: Any) -> float | None:
    """JSON has no NaN: non-finite losses are written as null."""
    value = float(value)
    return value if math.isfinite(value) else None


def device_hours(wall_time_s: float, devices: int) -> float:
    return wall_time_s * max(1, devices) / 3600.0


def training_cost_usd(gpu_hours: float, hourly_rate: float) -> float:
    if hourly_rate < 0 or not math.isfinite(hourly_rate):
        raise ValueError(f"hourly_rate must be a finite non-negative $/hour, got {hourly_rate!r}")
    return gpu_hours * hourly_rate
