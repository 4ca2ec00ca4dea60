"""An adapter's sha256 covers exactly what is pushed and pulled (weights + adapter config), and a pull verifies it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import ArtifactKey, adapter_repo
from baseweight_assets.hub.records import SyncStamp, failed_pushes
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import LocalDirTarget
from baseweight_assets.training.metadata import METADATA_FILE, adapter_payload, adapter_sha256

HUB = HubConfig(enabled=True, org="acme", dataset_repo="bench-artifacts", adapter_repo_prefix="bw")
KEY = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-500", "smoke")


def _adapter(folder: Path, weights: bytes = b"\x01\x02weights" * 50) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text('{"r": 16, "base_model_name_or_path": "/machine/a/base"}')
    (folder / "adapter_model.safetensors").write_bytes(weights)
    return folder


def _reference_sha(folder: Path, names: list[str]) -> str:
    h = hashlib.sha256()
    for name in names:
        data = (folder / name).read_bytes()
        h.update(f"{name}\0{len(data)}\0".encode() + data)
    return h.hexdigest()


def test_sha_covers_config_and_weights_only(tmp_path):
    folder = _adapter(tmp_path / "a")
    expected = _reference_sha(folder, ["adapter_config.json", "adapter_model.safetensors"])
    assert adapter_sha256(folder) == expected
    # PEFT's README card, our metadata JSON and stray files are not the adapter
    (folder / "README.md").write_text("card")
    (folder / METADATA_FILE).write_text('{"adapter_sha256": "x"}')
    (folder / "notes.txt").write_text("scratch")
    assert [p.name for p in adapter_payload(folder)] == ["adapter_config.json", "adapter_model.safetensors"]
    assert adapter_sha256(folder) == expected
    (folder / "adapter_model.safetensors").write_bytes(b"\x01\x02weights" * 49 + b"\x01\x02weighty")
    assert adapter_sha256(folder) != expected
    (folder / "adapter_model.safetensors").write_bytes(b"\x01\x02weights" * 50)
    (folder / "adapter_config.json").write_text('{"r": 8}')
    assert adapter_sha256(folder) != expected


def test_not_an_adapter_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_bytes(b"w")
    with pytest.raises(FileNotFoundError, match=r"x: not an adapter folder \(no adapter_config.json\)"):
        adapter_sha256(folder)
    (folder / "adapter_model.safetensors").unlink()
    (folder / "adapter_config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no adapter_model weights"):
        adapter_sha256(folder)


def _materialized(root: Path) -> tuple[Path, dict]:
    """An adapter as the lora_adapter asset leaves it: folder (with extras) + its JSON value under ``root``."""
    folder = _adapter(root / "adapters" / "fpb" / "smollm2-135m__lora-500")
    digest = adapter_sha256(folder)
    (folder / METADATA_FILE).write_text(json.dumps({"adapter_sha256": digest, "input_hash": "h"}))
    (folder / "README.md").write_text("PEFT card")
    value = {"status": "ok", "adapter_dir": str(folder), "adapter_sha256": digest, "metadata": {"n_train": 4}}
    json_file = root / "lora_adapter" / "fpb" / "smollm2-135m__lora-500.json"
    json_file.parent.mkdir(parents=True)
    json_file.write_text(json.dumps(value))
    return json_file, value


def test_pulled_adapter_verifies_against_the_recorded_sha(tmp_path):
    json_file, value = _materialized(tmp_path / "a")
    sync = HubSync(LocalDirTarget(tmp_path / "mirror"), HUB)
    sync.push(KEY, json_file, value)
    out = tmp_path / "b" / "lora_adapter" / "fpb" / "smollm2-135m__lora-500.json"
    assert sync.pull(KEY, out)
    pulled = json.loads(out.read_text())
    folder = Path(pulled["adapter_dir"])
    assert folder == tmp_path / "b" / "adapters" / "fpb" / "smollm2-135m__lora-500"
    assert adapter_sha256(folder) == pulled["adapter_sha256"] == value["adapter_sha256"]
    assert json.loads((folder / METADATA_FILE).read_text())["adapter_sha256"] == value["adapter_sha256"]
    assert not (folder / "README.md").exists()  # neither PEFT's card nor the Hub card comes back


def test_tampered_weights_on_the_hub_are_refused_and_nothing_local_changes(tmp_path):
    json_file, value = _materialized(tmp_path / "a")
    target = LocalDirTarget(tmp_path / "mirror")
    sync = HubSync(target, HUB)
    sync.push(KEY, json_file, value)
    (target.repo_dir(adapter_repo(HUB, KEY)) / "adapter_model.safetensors").write_bytes(b"evil")
    out = tmp_path / "b" / "lora_adapter" / "fpb" / "smollm2-135m__lora-500.json"
    with pytest.raises(HubSyncError, match="adapter files hash to .* not the recorded"):
        sync.pull(KEY, out)
    assert not out.exists() and not (tmp_path / "b" / "adapters" / "fpb" / "smollm2-135m__lora-500").exists()
    assert [p.name for p in (tmp_path / "b" / "adapters" / "fpb").iterdir()] == []  # no staging left behind


def test_a_folder_that_changed_since_materialization_is_not_pushed(tmp_path):
    json_file, value = _materialized(tmp_path / "a")
    (Path(value["adapter_dir"]) / "adapter_model.safetensors").write_bytes(b"retrained in place")
    target = LocalDirTarget(tmp_path / "mirror")
    with pytest.raises(HubSyncError, match="refusing to push a folder that changed"):
        HubSync(target, HUB).push(KEY, json_file, value)
    assert not target.repo_dir(adapter_repo(HUB, KEY)).exists()
    assert failed_pushes(tmp_path / "a") == [
        f"hub sync failed: {KEY.label} (smoke): {KEY.label}: {value['adapter_dir']} hashes to "
        f"{adapter_sha256(Path(value['adapter_dir']))[:12]} but the value records {value['adapter_sha256'][:12]}; "
        "refusing to push a folder that changed"]


def test_a_recorded_adapter_path_leaving_the_results_folder_is_refused(tmp_path):
    json_file, value = _materialized(tmp_path / "a")
    stamp = SyncStamp.new(KEY, json_file, adapter_sha256="ab" * 32, adapter_relpath="../../outside",
                          adapter_files=("adapter_config.json",))
    with pytest.raises(HubSyncError, match="not a plain relative path"):
        stamp.adapter_dir_under(tmp_path / "b")
    with pytest.raises(HubSyncError, match="plain file names"):
        SyncStamp.from_dict({**stamp.to_dict(), "adapter_files": ["../x"]}, "record")
