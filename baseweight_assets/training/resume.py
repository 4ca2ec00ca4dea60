"""Crash-safe resume: an input hash over data, config and code, ``train_state.json`` and checkpoint hygiene.

Decision for a work dir: ``resume`` (same hash, killed or failed mid-way, a verified checkpoint on disk) or
``fresh`` (anything else; checkpoints left by other inputs are stale and deleted first). A failed run with
unchanged inputs resumes too: an OOM caused by a neighbour or a crash is transient, while a real fix
(a lower learning rate after a NaN, a smaller batch after an OOM) changes the hash and starts fresh.

Every checkpoint gets a manifest (``MANIFEST``: each file's size and sha256) right after the Trainer saves it
(``manifest_callback``). A checkpoint is resumed only if its files still match the manifest; one that does not
(no manifest: the save was cut; a file missing, truncated or altered) is deleted and logged, and the next older
verified checkpoint is used, so a broken checkpoint is never resumed, let alone again and again.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baseweight_assets.storage.atomic import read_json, write_json
from baseweight_assets.storage.hashing import sha256_file

STATE_FILE = "train_state.json"
MANIFEST = "checkpoint_manifest.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Files the base model folder is identified by (weights by name and size: hashing 16 GB is too slow).
_BASE_ID_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                  "generation_config.json", "special_tokens_map.json")


def code_version() -> str:
    """sha256 over this package's Python source, so a trainer change invalidates old checkpoints."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def base_model_identity(base_model_dir: Path) -> dict[str, Any]:
    base_model_dir = Path(base_model_dir)
    files = {}
    for name in _BASE_ID_FILES:
        p = base_model_dir / name
        if p.is_file():
            files[name] = hashlib.sha256(p.read_bytes()).hexdigest()
    weights = sorted((p.name, p.stat().st_size) for p in base_model_dir.glob("*.safetensors"))
    return {"files": files, "weights": weights}


def input_hash(*, train_rows: list[dict], val_rows: list[dict], train_messages: list[list[dict]],
               val_messages: list[list[dict]], config: dict, max_epochs: int | None, backend: str,
               base_model_dir: Path, input_fingerprint: str) -> str:
    payload = {
        "train": [[r.get("id"), r.get("target")] for r in train_rows], "val": [[r.get("id"), r.get("target")] for r in val_rows],
        "train_messages": train_messages, "val_messages": val_messages,
        "config": config, "max_epochs": max_epochs, "backend": backend,
        "base": base_model_identity(base_model_dir), "fingerprint": input_fingerprint, "code": code_version(),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def checkpoints(work_dir: Path) -> list[Path]:
    """``checkpoint-N`` folders sorted by step."""
    found = [(int(m.group(1)), p) for p in Path(work_dir).glob("checkpoint-*") if (m := _CHECKPOINT.match(p.name))]
    return [p for _, p in sorted(found)]


def is_complete_checkpoint(path: Path) -> bool:
    """A kill during saving leaves a partial folder; trainer_state.json is written last by the Trainer."""
    return ((path / "trainer_state.json").is_file() and (path / "optimizer.pt").is_file()
            and any(path.glob("adapter_model.*")))


def last_complete_checkpoint(work_dir: Path) -> Path | None:
    """The newest checkpoint that passes ``verify_checkpoint`` (read-only: nothing is deleted)."""
    done = [p for p in checkpoints(work_dir) if verify_checkpoint(p) is None]
    return done[-1] if done else None


def write_manifest(checkpoint: Path) -> dict:
    """Record the size and sha256 of every file in ``checkpoint`` in its ``MANIFEST`` (written last, atomically)."""
    checkpoint = Path(checkpoint)
    files = {p.relative_to(checkpoint).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)}
             for p in sorted(checkpoint.rglob("*")) if p.is_file() and p.name != MANIFEST}
    manifest = {"files": files}
    write_json(checkpoint / MANIFEST, manifest, indent=1, sort_keys=True)
    return manifest


def verify_checkpoint(checkpoint: Path) -> str | None:
    """None when ``checkpoint`` is complete and every file matches its manifest (size, then sha256); else why not."""
    checkpoint = Path(checkpoint)
    if not (checkpoint / MANIFEST).is_file():
        return f"no {MANIFEST} (the save was interrupted)"
    try:
        files = read_json(checkpoint / MANIFEST)["files"]
    except (ValueError, KeyError, TypeError):
        return f"{MANIFEST} is unreadable"
    if not is_complete_checkpoint(checkpoint):
        return "incomplete (trainer_state.json, optimizer.pt or the adapter weights are missing)"
    for name, expected in sorted(files.items()):
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{name} has {path.stat().st_size} bytes, the manifest says {expected['size']}"
        if sha256_file(path) != expected["sha256"]:
            return f"{name} does not match its sha256 in the manifest"
    return None


def manifest_callback() -> Any:
    """A ``transformers.TrainerCallback`` that writes each checkpoint's manifest right after the Trainer saved it
    (``on_save`` runs once the checkpoint folder is complete; only the main process writes)."""
    from transformers import TrainerCallback

    class WriteCheckpointManifest(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and checkpoint.is_dir():
                write_manifest(checkpoint)
            return control

    return WriteCheckpointManifest()


def remove_checkpoints(work_dir: Path) -> list[str]:
    removed = []
    for path in checkpoints(work_dir):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def read_state(work_dir: Path) -> dict | None:
    path = Path(work_dir) / STATE_FILE
    if not path.exists():
        return None
    try:
        state = read_json(path)
    except ValueError:
        return None  # a corrupt state file means nothing can be trusted: start fresh
    return state if isinstance(state, dict) else None


def write_state(work_dir: Path, **fields: Any) -> dict:
    state = {**(read_state(work_dir) or {}), **fields, "updated_at": time.time()}
    write_json(Path(work_dir) / STATE_FILE, state, indent=2, sort_keys=True, allow_nan=True)
    return state


def decide(work_dir: Path, digest: str, log: Callable[[str], None] = print) -> tuple[str, Path | None, list[str]]:
    """Return (``resume``|``fresh``, checkpoint to resume from, names of stale checkpoints removed).

    When resuming, the newest checkpoint that passes ``verify_checkpoint`` is chosen; newer ones that fail are
    deleted and logged with the reason.
    """
    work_dir = Path(work_dir)
    state = read_state(work_dir)
    if state and state.get("input_hash") == digest and state.get("status") in ("in_progress", "failed"):
        for ckpt in reversed(checkpoints(work_dir)):
            problem = verify_checkpoint(ckpt)
            if problem is None:
                return "resume", ckpt, []
            log(f"{ckpt}: broken checkpoint discarded, not resumed: {problem}")
            shutil.rmtree(ckpt, ignore_errors=True)
    return "fresh", None, remove_checkpoints(work_dir)
