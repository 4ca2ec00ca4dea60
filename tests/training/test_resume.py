from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_model import fruit_rows, render_messages

from baseweight_assets.config.schema import TrainingConfig
from baseweight_assets.training.resume import (MANIFEST, decide, last_complete_checkpoint, verify_checkpoint,
                                                write_manifest, write_state)
from baseweight_assets.training.trainer import train_adapter

N_TRAIN, EPOCHS = 400, 2  # 200 steps at batch 4, a checkpoint every 10


def _run_in_process(model_dir, config, out_dir, work_dir):
    return train_adapter(base_model_dir=model_dir, train_rows=fruit_rows(N_TRAIN), val_rows=fruit_rows(4, "val"),
                         render_messages=render_messages, config=config, out_dir=out_dir, work_dir=work_dir,
                         max_epochs=EPOCHS, hourly_rate=1.0, hardware="cpu-test", input_fingerprint="fp",
                         log=lambda m: None)


def _checkpoint_recorded(work: Path) -> bool:
    """A complete checkpoint whose save the trainer has also recorded in train_state.json."""
    ckpt = last_complete_checkpoint(work)
    if ckpt is None:
        return False
    try:
        return json.loads((work / "train_state.json").read_text()).get("last_checkpoint") is not None
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def killed_run(tiny_model_dir, tmp_path_factory):
    """A real training process, SIGKILLed right after its first complete checkpoint."""
    root = tmp_path_factory.mktemp("killed")
    config = TrainingConfig(model="tiny", lora={"r": 4, "alpha": 8, "dropout": 0.0}, learning_rate=5e-3, per_device_batch_size=4,
                gradient_accumulation=1, max_seq_length=64, evals_per_epoch=10, early_stopping_patience=0,
                load_in_4bit=False, bf16=False, optimizer="adamw_torch", warmup_ratio=0.0)
    spec = {"model_dir": str(tiny_model_dir), "n_train": N_TRAIN, "config": config.model_dump(mode="json"),
            "out_dir": str(root / "adapter"), "work_dir": str(root / "work"), "max_epochs": EPOCHS}
    (root / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("train_child.py")), str(root / "spec.json")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    try:
        while not _checkpoint_recorded(root / "work"):
            if proc.poll() is not None:
                pytest.fail(f"training child exited ({proc.returncode}) before a checkpoint: {proc.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 120 s")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (root / "adapter").exists()  # killed: nothing published
    state = json.loads((root / "work" / "train_state.json").read_text())
    assert state["status"] == "in_progress"
    return root, config


def test_killed_run_resumes_from_its_last_checkpoint(tiny_model_dir, killed_run, tmp_path):
    root, config = killed_run
    work = tmp_path / "work"
    shutil.copytree(root / "work", work)  # the other test needs the killed state too
    ckpt = last_complete_checkpoint(work)
    killed_at = int(ckpt.name.split("-")[1])
    assert (ckpt / MANIFEST).is_file() and verify_checkpoint(ckpt) is None  # written by the trainer's callback
    meta = _run_in_process(tiny_model_dir, config, tmp_path / "adapter", work)
    assert meta["resumed_from"] == ckpt.name
    assert meta["steps"] == N_TRAIN // 4 * EPOCHS and meta["epochs_run"] == pytest.approx(EPOCHS)
    # the history before the kill came back from the checkpoint, not from retraining
    assert [p["step"] for p in meta["loss_history"]] == list(range(1, meta["steps"] + 1))
    assert meta["wall_time_s"] > meta["wall_time_this_attempt_s"]  # the killed attempt is costed too
    assert killed_at < meta["steps"] and (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


def test_changed_inputs_start_fresh_and_remove_stale_checkpoints(tiny_model_dir, killed_run, tmp_path):
    root, config = killed_run
    work = tmp_path / "work"
    shutil.copytree(root / "work", work)
    stale = last_complete_checkpoint(work)
    (stale / "STALE_MARKER").write_text("from the killed run")
    changed = config.model_copy(update={"learning_rate": 4e-3})
    logs: list[str] = []
    meta = train_adapter(base_model_dir=tiny_model_dir, train_rows=fruit_rows(N_TRAIN), val_rows=fruit_rows(4, "val"),
                         render_messages=render_messages, config=changed, out_dir=tmp_path / "adapter", work_dir=work,
                         max_epochs=1, hourly_rate=1.0, hardware="cpu-test", input_fingerprint="fp", log=logs.append)
    assert meta["resumed_from"] is None and meta["steps"] == N_TRAIN // 4
    assert not (stale / "STALE_MARKER").exists()
    assert any("stale checkpoint" in line and stale.name in line for line in logs)
    assert meta["input_hash"] != json.loads((root / "work" / "train_state.json").read_text())["input_hash"]


def _checkpoint(work: Path, step: int, *, manifest: bool = True) -> Path:
    ckpt = work / f"checkpoint-{step}"
    ckpt.mkdir(exist_ok=True)
    (ckpt / "adapter_model.safetensors").write_bytes(bytes(range(256)) * 8)
    (ckpt / "optimizer.pt").write_bytes(b"adam state " * 100)
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if manifest:
        write_manifest(ckpt)
    return ckpt


def test_partial_checkpoint_is_not_resumed(tmp_path):
    write_state(tmp_path, input_hash="h", status="in_progress")
    good, partial = _checkpoint(tmp_path, 10), tmp_path / "checkpoint-20"
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"x")
    logs: list[str] = []
    assert decide(tmp_path, "h", log=logs.append) == ("resume", good, [])
    assert not partial.exists() and "checkpoint-20: broken checkpoint discarded" in logs[0]
    _checkpoint(tmp_path, 20)
    mode, ckpt, removed = decide(tmp_path, "other")
    assert (mode, ckpt, sorted(removed)) == ("fresh", None, ["checkpoint-10", "checkpoint-20"])
    assert not good.exists()


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))  # same size: only the hash can tell


@pytest.mark.parametrize("damage, reason", [
    (lambda c: _flip_one_byte(c / "adapter_model.safetensors"), "adapter_model.safetensors does not match its sha256"),
    (lambda c: (c / "optimizer.pt").write_bytes(b"adam"), "optimizer.pt has 4 bytes, the manifest says 1100"),
    (lambda c: (c / MANIFEST).unlink(), f"no {MANIFEST}"),
    (lambda c: (c / MANIFEST).write_text("{trunc"), f"{MANIFEST} is unreadable"),
    (lambda c: (c / "rng_state.pth").unlink(), "rng_state.pth is missing"),
])
def test_broken_checkpoint_is_discarded_and_the_previous_one_resumed(tmp_path, damage, reason):
    write_state(tmp_path, input_hash="h", status="failed")
    older = _checkpoint(tmp_path, 10)
    newer = tmp_path / "checkpoint-20"
    newer.mkdir()
    (newer / "rng_state.pth").write_bytes(b"rng")
    _checkpoint(tmp_path, 20, manifest=False)
    write_manifest(newer)
    assert verify_checkpoint(newer) is None
    damage(newer)
    logs: list[str] = []
    assert decide(tmp_path, "h", log=logs.append) == ("resume", older, [])
    assert not newer.exists() and len(logs) == 1 and reason in logs[0] and str(newer) in logs[0]
    assert decide(tmp_path, "h", log=logs.append) == ("resume", older, []) and len(logs) == 1  # not again


def test_only_broken_checkpoints_start_fresh(tmp_path):
    write_state(tmp_path, input_hash="h", status="in_progress")
    ckpt = _checkpoint(tmp_path, 10)
    _flip_one_byte(ckpt / "optimizer.pt")
    logs: list[str] = []
    assert decide(tmp_path, "h", log=logs.append) == ("fresh", None, [])
    assert not ckpt.exists() and "optimizer.pt does not match" in logs[0]


def test_corrupt_state_file_starts_fresh(tmp_path):
    (tmp_path / "train_state.json").write_text("{trunc")
    (tmp_path / "checkpoint-5").mkdir()
    assert decide(tmp_path, "h")[0] == "fresh" and not (tmp_path / "checkpoint-5").exists()
