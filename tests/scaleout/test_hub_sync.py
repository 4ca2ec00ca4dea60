"""Hub sync through the same interface against a local folder and a recording HfApi (no network)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub.layout import ArtifactKey, dataset_repo
from baseweight_assets.hub.redaction import HubSyncError
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import HubTarget, LocalDirTarget

from .fake_hfapi import RecordingHfApi

TOKEN = "hf_SecretTokenValue1234567890abcdef"
HUB = HubConfig(enabled=True, org="acme", dataset_repo="bench-artifacts", adapter_repo_prefix="bw", private=True)


def _artifacts(root: Path) -> dict:
    """Three partitions as the IO manager leaves them: prepared splits, scores, and a trained adapter."""
    adapter_dir = root / "results" / "adapters" / "fpb" / "smollm2-135m__lora-500"
    adapter_dir.mkdir(parents=True)
    (adapter_dir / "adapter_config.json").write_text('{"r": 8}')
    (adapter_dir / "adapter_model.safetensors").write_bytes(b"\x00weights\xff" * 100)
    values = {
        ArtifactKey("prepared_splits", "fpb", "smoke"): {"task": "fpb", "splits": {"train": [{"id": "a"}]}},
        ArtifactKey("scores", "fpb|smollm2-135m__zero-shot", "smoke"): {"status": "ok", "metric": 0.5},
        ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-500", "smoke"): {
            "status": "ok", "adapter_dir": str(adapter_dir), "adapter_sha256": "abc123",
            "metadata": {"n_train": 12, "best_val_loss": 1.5, "lora": {"r": 8}}},
    }
    files = {}
    for key, value in values.items():
        path = root / "local" / key.json_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
        files[key] = path
    return {"values": values, "files": files, "adapter_dir": adapter_dir}


def _push_all(sync: HubSync, art: dict) -> list[str]:
    return [sync.push(key, art["files"][key], value) for key, value in art["values"].items()]


def _pull_all_and_compare(sync: HubSync, art: dict, fresh: Path) -> None:
    for key, value in art["values"].items():
        out = fresh / key.json_path()
        adapter_dir = fresh / "adapters" / "fpb" / "smollm2-135m__lora-500"
        assert sync.pull(key, out, adapter_dir=adapter_dir if key.asset == "lora_adapter" else None)
        pulled = json.loads(out.read_text())
        if key.asset == "lora_adapter":
            assert pulled["adapter_dir"] == str(adapter_dir)  # rewritten to this machine's path
            assert {k: v for k, v in pulled.items() if k != "adapter_dir"} == \
                   {k: v for k, v in value.items() if k != "adapter_dir"}
            for name in ("adapter_config.json", "adapter_model.safetensors"):
                assert (adapter_dir / name).read_bytes() == (art["adapter_dir"] / name).read_bytes()
            assert sorted(p.name for p in adapter_dir.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
        else:
            assert pulled == value
    missing = ArtifactKey("scores", "fpb|gpt-5.4-nano__5-shot", "smoke")
    assert sync.pull(missing, fresh / "nope.json") is False and not (fresh / "nope.json").exists()


def test_local_target_round_trip_one_commit_per_partition(tmp_path):
    art = _artifacts(tmp_path)
    target = LocalDirTarget(tmp_path / "mirror")
    sync = HubSync(target, HUB, base_models={"smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    oids = _push_all(sync, art)
    assert all(oids) and len(set(oids)) == 3
    dataset_log = (tmp_path / "mirror/datasets/acme/bench-artifacts/.commits.jsonl").read_text().splitlines()
    model_log = (tmp_path / "mirror/models/acme/bw-smollm2-135m-fpb-lora-500-smoke/.commits.jsonl").read_text().splitlines()
    assert len(dataset_log) == 2 and len(model_log) == 1
    assert "README.md" in json.loads(dataset_log[0])["files"]       # dataset card with the first commit only
    assert "README.md" not in json.loads(dataset_log[1])["files"]
    card = (tmp_path / "mirror/models/acme/bw-smollm2-135m-fpb-lora-500-smoke/README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "abc123" in card
    _pull_all_and_compare(sync, art, tmp_path / "fresh")


def test_hfapi_calls_repo_ids_paths_one_commit_each_and_no_token(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    art = _artifacts(tmp_path)
    api = RecordingHfApi(token=TOKEN)
    logs: list[str] = []
    sync = HubSync(HubTarget(api, token=TOKEN), HUB, log=logs.append)
    _push_all(sync, art)

    commits = api.commits()
    assert [(c["repo_type"], c["repo_id"]) for c in commits] == [
        ("dataset", "acme/bench-artifacts"), ("dataset", "acme/bench-artifacts"),
        ("model", "acme/bw-smollm2-135m-fpb-lora-500-smoke")]
    assert commits[0]["paths"] == ["README.md", "smoke/prepared_splits/fpb.json"]
    assert commits[1]["paths"] == ["smoke/scores/fpb/smollm2-135m__zero-shot.json"]
    assert commits[2]["paths"] == ["README.md", "adapter_config.json", "adapter_model.safetensors",
                                   "baseweight/lora_adapter.json"]
    assert all(c["revision"] == "main" for c in commits)
    created = [kw for name, kw in api.calls if name == "create_repo"]
    assert all(kw["exist_ok"] and kw["private"] for kw in created)
    assert len(created) == 2  # each repo ensured once per sync session

    _pull_all_and_compare(sync, art, tmp_path / "fresh")
    everything = json.dumps(api.calls, default=str) + "\n".join(logs) + caplog.text
    everything += "".join(b.decode("utf-8", "replace") for files in api.repos.values() for b in files.values())
    everything += "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert TOKEN not in everything


def test_hub_errors_name_the_repo_and_hide_the_token(tmp_path):
    art = _artifacts(tmp_path)
    api = RecordingHfApi(token=TOKEN, fail_with=f"401 Unauthorized: bad token {TOKEN} for acme/bench-artifacts")
    sync = HubSync(HubTarget(api, token=TOKEN), HUB)
    key = ArtifactKey("prepared_splits", "fpb", "smoke")
    with pytest.raises(HubSyncError) as err:
        sync.push(key, art["files"][key], art["values"][key])
    assert "dataset:acme/bench-artifacts" in str(err.value) and TOKEN not in str(err.value)


def test_corrupt_remote_file_is_refused_and_local_state_untouched(tmp_path):
    target = LocalDirTarget(tmp_path / "mirror")
    sync = HubSync(target, HUB)
    key = ArtifactKey("scores", "fpb|smollm2-135m__zero-shot", "smoke")
    good = tmp_path / "v.json"
    good.write_text('{"status": "ok"}')
    sync.push(key, good, {"status": "ok"})
    (target.repo_dir(dataset_repo(HUB)) / key.json_path()).write_text('{"status": "ok", "trunc')
    out = tmp_path / "local" / "scores.json"
    with pytest.raises(HubSyncError, match=r"dataset:acme/bench-artifacts/smoke/scores/fpb/smollm2-135m__zero-shot\.json: not valid JSON"):
        sync.pull(key, out)
    assert not out.exists()


def test_unsynced_assets_make_no_calls(tmp_path):
    api = RecordingHfApi(token=TOKEN)
    sync = HubSync(HubTarget(api, token=TOKEN), HUB)
    f = tmp_path / "raw.json"
    f.write_text("{}")
    assert sync.push(ArtifactKey("raw_dataset", "fpb", "smoke"), f, {}) is None
    assert sync.pull(ArtifactKey("raw_dataset", "fpb", "smoke"), f) is False
    assert api.calls == []
