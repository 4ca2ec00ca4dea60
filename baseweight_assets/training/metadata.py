"""What an adapter records about itself: sizes, histories, hardware, cost, versions and hashes."""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import re
from pathlib import Path
from typing import Any

METADATA_FILE = "baseweight_training.json"
ADAPTER_CONFIG_FILE = "adapter_config.json"
_ADAPTER_WEIGHTS = re.compile(r"^adapter_model(-\d{5}-of-\d{5})?\.(safetensors|bin)$")
_LIBRARIES = ("torch", "transformers", "peft", "trl", "accelerate", "bitsandbytes", "unsloth", "flash-attn")


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def adapter_payload(adapter_dir: Path) -> list[Path]:
    """The files that ARE the adapter, in name order: ``adapter_config.json`` and the ``adapter_model`` weights
    (``.safetensors`` or ``.bin``, sharded or not). Everything else a folder may hold (PEFT's README card, our
    ``baseweight_training.json``, a pulled copy's extras) is not part of it, so it is neither hashed nor synced.

    Raises FileNotFoundError naming the folder when the config or the weights are missing.
    """
    adapter_dir = Path(adapter_dir)
    found = sorted(p for p in adapter_dir.iterdir() if p.is_file()
                   and (p.name == ADAPTER_CONFIG_FILE or _ADAPTER_WEIGHTS.match(p.name))) if adapter_dir.is_dir() else []
    names = {p.name for p in found}
    if ADAPTER_CONFIG_FILE not in names or names == {ADAPTER_CONFIG_FILE}:
        missing = ADAPTER_CONFIG_FILE if ADAPTER_CONFIG_FILE not in names else "adapter_model weights"
        raise FileNotFoundError(f"{adapter_dir}: not an adapter folder (no {missing})")
    return found


def adapter_sha256(adapter_dir: Path) -> str:
    """sha256 over ``adapter_payload``: for each file in name order, its name, NUL, its size, NUL, its bytes.

    The one definition of an adapter's identity: the trainer records it, the Hub sync pushes exactly these
    files and verifies a pulled folder against it.
    """
    h = hashlib.sha256()
    for p in adapter_payload(adapter_dir):
        h.update(f"{p.name}\0{p.stat().st_size}\0".encode())
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
