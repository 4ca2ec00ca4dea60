"""Shared helpers for the scale-out tests (imported, not a conftest, so each test states what it uses)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("BASEWEIGHT_DATA_DIR") or REPO.parent / "shared" / "data")


def write_deployment(config_dir: Path, *, gpus: int = 1, node_selector: dict | None = None,
                     resource_name: str = "nvidia.com/gpu", hub_enabled: bool = False) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((REPO / "configs" / "deployment.yaml").read_text())
    data["kubernetes"]["namespace"] = "bench-test"
    data["kubernetes"]["gpu_step"].update(gpus=gpus, resource_name=resource_name,
                                          node_selector=node_selector or {"gpu": "yes"})
    data["hub"]["enabled"] = hub_enabled
    path = config_dir / "deployment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trained_cell(results: Path, task: str = "fpb", variant: str = "smollm2-135m__lora-8", *, seeds: int = 2,
                 n_train: int = 8, weights_salt: bytes = b"") -> dict:
    """A lora_adapter value as ``training.cell.train_lora_cell`` leaves it (``pipeline.records.CellAdapters``): one
    adapter per training seed in its content-addressed folder ``<results>/adapters/<adapter_key>``, with PEFT's
    README card and a stray file beside the payload (neither is synced). The key hashes the training inputs (task,
    model, rows, seed), not the condition: two sizes with the same rows share their folders, as in training.
    ``weights_salt`` trains "the same inputs on another machine" (same keys, other bytes)."""
    import hashlib
    import json

    from baseweight_assets.training.metadata import METADATA_FILE, adapter_sha256

    model, _, condition = variant.partition("__")
    adapters = []
    for i in range(seeds):
        seed = 42 + i
        key = hashlib.sha256(f"{task}|{model}|{n_train}|{seed}".encode()).hexdigest()[:20]
        folder = Path(results) / "adapters" / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "base_model_name_or_path": "/machine/base"}))
        (folder / "adapter_model.safetensors").write_bytes(hashlib.sha256(key.encode() + weights_salt).digest() * 40)
        (folder / "README.md").write_text("PEFT's own card")
        (folder / "notes.txt").write_text("local scratch")
        digest = adapter_sha256(folder)
        metadata = {"adapter_sha256": digest, "input_hash": key, "n_train": n_train, "best_val_loss": 1.5 - i / 10,
                    "steps": 4, "lora": {"r": 8}, "seed": seed, "reused": False}
        (folder / METADATA_FILE).write_text(json.dumps(metadata))
        adapters.append({"seed": seed, "adapter_key": key, "adapter_dir": str(folder), "adapter_sha256": digest,
                         "reused": False, "metadata": metadata})
    first = adapters[0]
    return {"status": "ok", "reason": None, "task": task, "variant": variant, "condition": condition,
            "n_train": n_train, "adapters": adapters, "adapter_dir": first["adapter_dir"],
            "adapter_sha256": first["adapter_sha256"], "adapter_key": first["adapter_key"],
            "metadata": first["metadata"], "gpu_hours_spent": 0.0}
