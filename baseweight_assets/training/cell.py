"""One LoRA cell of the data-efficiency curve: its training rows, trained under each training seed, every adapter
stored under the hash of what it was trained from.

The adapter's address (``adapter_key``) covers the base model's identity, the training and validation rows with their
targets, the recipe (seed included), the prompt templates, the epoch cap and the trainer's code. Two cells with
identical inputs (``lora-8`` and ``lora-full`` when a task has 8 training rows) therefore train once: the second
finds the adapter published at the same address and reuses it, and says so (``reused: true``, same ``adapter_key``).
A file lock per address makes two runs that reach the same address at once train it once, not twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from baseweight_assets.config.schema import TrainingConfig
from baseweight_assets.storage.hashing import stable_hash
from baseweight_assets.storage.locks import ExclusiveFileLock
from baseweight_assets.training.metadata import METADATA_FILE
from baseweight_assets.training.resume import code_version
from baseweight_assets.training.trainer import train_adapter

KEY_CHARS = 20
TRAINING_LOCK_TIMEOUT_S = 12 * 3600  # a cell waits this long for another run training the same adapter


def cell_train_rows(prepared: dict, condition: str) -> list[dict]:
    """The train rows of a ``lora-N`` cell: its nested subset (``prepared['lora_subsets']``), in train order."""
    subsets = prepared.get("lora_subsets") or {}
    if condition not in subsets:
        raise KeyError(f"{prepared.get('task')}: no training subset for {condition} (have {sorted(subsets)})")
    keep = set(subsets[condition])
    return [row for row in prepared["splits"]["train"] if row["id"] in keep]


def seeds_for(config: TrainingConfig, n_seeds: int) -> list[int]:
    """Training seed i of a cell is the recipe's seed + i (seed 0 is the recipe as written)."""
    return [config.seed + i for i in range(n_seeds)]


def adapter_key(*, base_identity: dict, train_rows: list[dict], val_rows: list[dict], config: TrainingConfig,
                prompt_hash: str, max_epochs: int | None) -> str:
    payload = {
        "base": base_identity,
        "train": [[r["id"], r["target"]] for r in train_rows],
        "val": [[r["id"], r["target"]] for r in val_rows],
        "recipe": config.model_dump(mode="json"),
        "prompt": prompt_hash,
        "max_epochs": max_epochs,
        "code": code_version(),
    }
    return stable_hash(payload)[:KEY_CHARS]


def train_lora_cell(*, base_model_dir: Path, base_identity: dict, prepared: dict, condition: str,
                    render_messages: Callable[[dict], list[dict]], prompt_hash: str, config: TrainingConfig,
                    n_seeds: int, adapters_root: Path, checkpoints_root: Path, max_epochs: int | None,
                    hourly_rate: float, hardware: str, log: Callable[[str], None] = print,
                    callbacks: list | None = None) -> dict:
    """Train (or reuse) one adapter per seed; the lora_adapter record (docs/ARCHITECTURE.md)."""
    train = cell_train_rows(prepared, condition)
    val = prepared["splits"]["val"]
    adapters = []
    for seed in seeds_for(config, n_seeds):
        recipe = config.model_copy(update={"seed": seed})
        key = adapter_key(base_identity=base_identity, train_rows=train, val_rows=val, config=recipe,
                          prompt_hash=prompt_hash, max_epochs=max_epochs)
        out_dir = Path(adapters_root) / key
        lock = ExclusiveFileLock(Path(adapters_root) / f"{key}.lock", what=f"adapter {key}")
        lock.acquire(TRAINING_LOCK_TIMEOUT_S)
        try:
            existed = (out_dir / METADATA_FILE).is_file()
            meta = train_adapter(
                base_model_dir=base_model_dir, train_rows=train, val_rows=val, render_messages=render_messages,
                config=recipe, out_dir=out_dir, work_dir=Path(checkpoints_root) / key, max_epochs=max_epochs,
                hourly_rate=hourly_rate, hardware=hardware, input_fingerprint=key, log=log, callbacks=callbacks,
            )
        finally:
            lock.release()
        reused = bool(meta.get("reused")) and existed
        if reused:
            log(f"{condition} seed {seed}: adapter {key} already trained from identical inputs; shared, not retrained")
        adapters.append({"seed": seed, "adapter_key": key, "adapter_dir": str(out_dir),
                         "adapter_sha256": meta.get("adapter_sha256"), "reused": reused, "metadata": meta})
    first = adapters[0]
    return {
        "status": "ok", "reason": None, "condition": condition, "n_train": len(train),
        "adapters": adapters,
        # seed 0's adapter, for readers of a single adapter (Hub sync, serving one adapter)
        "adapter_dir": first["adapter_dir"], "adapter_sha256": first["adapter_sha256"],
        "adapter_key": first["adapter_key"], "metadata": first["metadata"],
        # what this materialization spent (a shared adapter cost nothing here; its own metadata keeps what
        # training it cost, which is what the cell's TCO charges)
        "gpu_hours_spent": sum(float(a["metadata"].get("gpu_hours") or 0.0) for a in adapters if not a["reused"]),
    }
