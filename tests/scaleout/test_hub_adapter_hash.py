"""An adapter's sha256 covers exactly what is pushed and pulled (weights + adapter config), and a pull verifies it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import ArtifactKey, adapter_repo
from baseweight_assets.hub.records import AdapterStamp, SyncStamp, failed_pushes
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import LocalDirTarget
from baseweight_assets.training.metadata import METADATA_FILE, adapter_payload, adapter_sha256

from .helpers import trained_cell

HUB = HubConfig(enabled=True, org="acme", dataset_repo="bench-artifacts", adapter_repo_prefix="bw")
KEY = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-8", "smoke")


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


def _materialized(root: Path, seeds: int = 2) -> tuple[Path, dict]:
    """A trained cell as the lora_adapter asset leaves it under the results folder ``root``: each seed's folder
    (with extras) at its content address, and the JSON value."""
    value = trained_cell(root, seeds=seeds)
    json_file = root / "lora_adapter" / "fpb" / "smollm2-135m__lora-8.json"
    json_file.parent.mkdir(parents=True)
    json_file.write_text(json.dumps(value))
    return json_file, value


def test_pulled_adapters_verify_against_the_recorded_sha(tmp_path):
    json_file, value = _materialized(tmp_path / "a")
    sync = HubSync(LocalDirTarget(tmp_path / "mirror"), HUB)
    sync.push(KEY, json_file, value)
    out = tmp_path / "b" / "lora_adapter" / "fpb" / "smollm2-135m__lora-8.json"
    assert sync.pull(KEY, out)
    pulled = json.loads(out.read_text())
    for mine, theirs in zip(pulled["adapters"], value["adapters"], strict=True):
        folder = Path(mine["adapter_dir"])
        assert folder == tmp_path / "b" / "adapters" / theirs["adapter_key"]
        assert adapter_sha256(folder) == mine["adapter_sha256"] == theirs["adapter_sha256"]
        assert json.loads((folder / METADATA_FILE).read_text())["adapter_sha256"] == theirs["adapter_sha256"]
        assert not (folder / "README.md").exists()  # neither PEFT's card nor the Hub card comes back


def test_tampered_weights_on_the_hub_are_refused_and_nothing_local_changes(tmp_path):
    json_file, value = _materialized(tmp_path / "a")
    target = LocalDirTarget(tmp_path / "mirror")
    sync = HubSync(target, HUB)
    sync.push(KEY, json_file, value)
    second = value["adapters"][1]["adapter_key"]  # the first seed verifies; the second does not
    (target.repo_dir(adapter_repo(HUB, KEY)) / "adapters" / second / "adapter_model.safetensors").write_bytes(b"evil")
    out = tmp_path / "b" / "lora_adapter" / "fpb" / "smollm2-135m__lora-8.json"
    with pytest.raises(HubSyncError, match=f"adapters/{second}: its adapter files hash to .* not the recorded"):
        sync.pull(KEY, out)
    assert not out.exists()
    assert list((tmp_path / "b" / "adapters").iterdir()) == []  # not even the good seed; no staging left behind


def test_a_folder_that_changed_since_materialization_is_not_pushed(tmp_path):
    json_file, value = _materialized(tmp_path / "a")
    seed = value["adapters"][1]
    (Path(seed["adapter_dir"]) / "adapter_model.safetensors").write_bytes(b"retrained in place")
    target = LocalDirTarget(tmp_path / "mirror")
    with pytest.raises(HubSyncError, match="refusing to push a folder that changed"):
        HubSync(target, HUB).push(KEY, json_file, value)
    assert not target.repo_dir(adapter_repo(HUB, KEY)).exists()
    assert failed_pushes(tmp_path / "a") == [
        f"hub sync failed: {KEY.label} (smoke): {KEY.label}: adapters[1] (seed 43): {seed['adapter_dir']} hashes to "
        f"{adapter_sha256(Path(seed['adapter_dir']))[:12]} but the value records {seed['adapter_sha256'][:12]}; "
        "refusing to push a folder that changed"]


def test_a_recorded_adapter_address_leaving_the_adapters_folder_is_refused(tmp_path):
    json_file, _value = _materialized(tmp_path / "a")
    entry = AdapterStamp(adapter_key="ab" * 10, adapter_sha256="cd" * 32, files=("adapter_config.json",))
    stamp = SyncStamp.new(KEY, json_file, adapters=(entry,))
    assert SyncStamp.from_dict(stamp.to_dict(), "record") == stamp
    assert entry.dir_under(tmp_path / "b") == tmp_path / "b" / "adapters" / ("ab" * 10)
    for bad in ("../../outside", "a/b", "..", "", "/abs"):
        with pytest.raises(HubSyncError, match="not a plain folder name"):
            SyncStamp.from_dict({**stamp.to_dict(), "adapters": [{**entry.to_dict(), "adapter_key": bad}]}, "record")
    with pytest.raises(HubSyncError, match="plain file names"):
        SyncStamp.from_dict({**stamp.to_dict(), "adapters": [{**entry.to_dict(), "files": ["../x"]}]}, "record")
