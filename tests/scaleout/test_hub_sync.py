"""Hub sync through the same interface against a local folder and a recording HfApi (no network)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import ArtifactKey, dataset_repo
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import HubTarget, LocalDirTarget
from baseweight_assets.training.metadata import METADATA_FILE, adapter_sha256

from .fake_hfapi import RecordingHfApi

TOKEN = "hf_SecretTokenValue1234567890abcdef"
HUB = HubConfig(enabled=True, org="acme", dataset_repo="bench-artifacts", adapter_repo_prefix="bw", private=True)


ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors", METADATA_FILE]  # what is pushed and pulled


def _artifacts(root: Path) -> dict:
    """Three partitions as the IO manager leaves them under ``root/local/smoke``: prepared splits, scores, and a
    trained adapter whose folder also holds PEFT's README card and a stray file (neither is synced)."""
    base = root / "local" / "smoke"
    adapter_dir = base / "adapters" / "fpb" / "smollm2-135m__lora-500"
    adapter_dir.mkdir(parents=True)
    (adapter_dir / "adapter_config.json").write_text('{"r": 8}')
    (adapter_dir / "adapter_model.safetensors").write_bytes(b"\x00weights\xff" * 100)
    (adapter_dir / "README.md").write_text("PEFT's own card")
    (adapter_dir / "notes.txt").write_text("local scratch")
    digest = adapter_sha256(adapter_dir)
    (adapter_dir / METADATA_FILE).write_text(json.dumps({"adapter_sha256": digest, "n_train": 12}))
    values = {
        ArtifactKey("prepared_splits", "fpb", "smoke"): {"task": "fpb", "splits": {"train": [{"id": "a"}]}},
        ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", "smoke"): {"status": "ok", "metric": 0.5},
        ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-500", "smoke"): {
            "status": "ok", "adapter_dir": str(adapter_dir), "adapter_sha256": digest,
            "metadata": {"n_train": 12, "best_val_loss": 1.5, "lora": {"r": 8}}},
    }
    files = {}
    for key, value in values.items():
        path = root / "local" / key.json_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
        files[key] = path
    return {"values": values, "files": files, "adapter_dir": adapter_dir, "sha": digest}


def _push_all(sync: HubSync, art: dict) -> list[str]:
    results = [sync.push(key, art["files"][key], value) for key, value in art["values"].items()]
    assert [r.state for r in results] == ["pushed"] * 3
    return [r.commit for r in results]


def _pull_all_and_compare(sync: HubSync, art: dict, fresh: Path) -> None:
    for key, value in art["values"].items():
        out = fresh / key.json_path()
        assert sync.pull(key, out)
        pulled = json.loads(out.read_text())
        if key.asset == "lora_adapter":
            adapter_dir = fresh / "smoke" / "adapters" / "fpb" / "smollm2-135m__lora-500"  # same place under base
            assert pulled["adapter_dir"] == str(adapter_dir)  # rewritten to this machine's path
            assert {k: v for k, v in pulled.items() if k != "adapter_dir"} == \
                   {k: v for k, v in value.items() if k != "adapter_dir"}
            assert sorted(p.name for p in adapter_dir.iterdir()) == ADAPTER_FILES
            for name in ADAPTER_FILES:
                assert (adapter_dir / name).read_bytes() == (art["adapter_dir"] / name).read_bytes()
            assert adapter_sha256(adapter_dir) == art["sha"]
        else:
            assert pulled == value
            assert out.read_bytes() == art["files"][key].read_bytes()  # the pushed bytes, unchanged
    missing = ArtifactKey("local_scores", "fpb|gpt-5.4-nano__5-shot", "smoke")
    nope = fresh / "smoke" / "local_scores" / "fpb" / "gpt-5.4-nano__5-shot.json"
    assert sync.pull(missing, nope) is False and not nope.exists()


def test_local_target_round_trip_one_commit_per_partition(tmp_path):
    art = _artifacts(tmp_path)
    target = LocalDirTarget(tmp_path / "mirror")
    sync = HubSync(target, HUB, base_models={"smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    oids = _push_all(sync, art)
    assert all(len(o) == 40 for o in oids) and len(set(oids)) == 3
    dataset = tmp_path / "mirror/datasets/acme/bench-artifacts"
    model = tmp_path / "mirror/models/acme/bw-smollm2-135m-fpb-lora-500-smoke"
    dataset_log = [json.loads(line) for line in (dataset / ".commits.jsonl").read_text().splitlines()]
    model_log = [json.loads(line) for line in (model / ".commits.jsonl").read_text().splitlines()]
    assert len(dataset_log) == 2 and len(model_log) == 1
    assert dataset_log[0]["files"] == ["README.md", "baseweight-sync/smoke/prepared_splits/fpb.json",
                                       "smoke/prepared_splits/fpb.json"]  # dataset card with the first commit only
    assert dataset_log[1]["files"] == ["baseweight-sync/smoke/local_scores/fpb/smollm2-135m__zero-shot.json",
                                       "smoke/local_scores/fpb/smollm2-135m__zero-shot.json"]
    assert dataset_log[1]["parent"] == dataset_log[0]["oid"] == oids[0]  # each push is based on the head it saw
    assert (dataset / ".head").read_text() == oids[1]
    assert model_log[0]["files"] == sorted(["README.md", "adapter_config.json", "adapter_model.safetensors",
                                            METADATA_FILE, "baseweight/lora_adapter.json", "baseweight/sync.json"])
    card = (model / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and art["sha"] in card
    _pull_all_and_compare(sync, art, tmp_path / "fresh")


def test_hfapi_calls_repo_ids_paths_parent_commits_and_no_token(tmp_path, caplog):
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
    assert commits[0]["paths"] == ["README.md", "baseweight-sync/smoke/prepared_splits/fpb.json",
                                   "smoke/prepared_splits/fpb.json"]
    assert commits[1]["paths"] == ["baseweight-sync/smoke/local_scores/fpb/smollm2-135m__zero-shot.json",
                                   "smoke/local_scores/fpb/smollm2-135m__zero-shot.json"]
    assert commits[2]["paths"] == ["README.md", "adapter_config.json", "adapter_model.safetensors",
                                   "baseweight/lora_adapter.json", "baseweight/sync.json", METADATA_FILE]
    assert all(c["revision"] == "main" for c in commits)
    # every commit names its parent: the dataset repo's initial commit, then the commit this session made
    dataset_shas = [sha for sha, _ in api.history[("dataset", "acme/bench-artifacts")]]
    model_shas = [sha for sha, _ in api.history[("model", "acme/bw-smollm2-135m-fpb-lora-500-smoke")]]
    assert [c["parent_commit"] for c in commits] == [dataset_shas[0], dataset_shas[1], model_shas[0]]
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
    key = ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", "smoke")
    good = tmp_path / "a" / key.json_path()
    good.parent.mkdir(parents=True)
    good.write_text('{"status": "ok"}')
    sync.push(key, good, {"status": "ok"})
    (target.repo_dir(dataset_repo(HUB)) / key.json_path()).write_text('{"status": "ok", "trunc')
    out = tmp_path / "b" / key.json_path()
    with pytest.raises(HubSyncError, match=r"dataset:acme/bench-artifacts/smoke/local_scores/fpb/smollm2-135m__zero-shot\.json: not valid JSON"):
        sync.pull(key, out)
    assert not out.exists()
    (target.repo_dir(dataset_repo(HUB)) / key.json_path()).write_text('{"status": "forged"}')  # valid, not pushed
    with pytest.raises(HubSyncError, match="does not match its sync record"):
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
