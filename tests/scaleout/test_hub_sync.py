"""Hub sync through the same interface against a local folder and a recording HfApi (no network)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import ArtifactKey, dataset_repo
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import HubTarget, LocalDirTarget
from baseweight_assets.training.metadata import METADATA_FILE, adapter_sha256

from .fake_hfapi import RecordingHfApi
from .helpers import trained_cell

TOKEN = "hf_SecretTokenValue1234567890abcdef"
HUB = HubConfig(enabled=True, org="acme", dataset_repo="bench-artifacts", adapter_repo_prefix="bw", private=True)


PAYLOAD = ["adapter_config.json", "adapter_model.safetensors", METADATA_FILE]  # what is pushed of each folder
CELL = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-8", "smoke")
MODEL_REPO = "acme/bw-smollm2-135m-fpb-smoke"  # every lora-N cell of one model on one task


def _artifacts(root: Path) -> dict:
    """Three partitions as the IO manager leaves them under ``root/local/smoke``: prepared splits, scores, and a
    trained adapter cell with two training seeds, each folder also holding PEFT's README card and a stray file."""
    base = root / "local" / "smoke"
    cell = trained_cell(base, seeds=2)
    values = {
        ArtifactKey("prepared_splits", "fpb", "smoke"): {"task": "fpb", "splits": {"train": [{"id": "a"}]}},
        ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", "smoke"): {"status": "ok", "metric": 0.5},
        CELL: cell,
    }
    files = {}
    for key, value in values.items():
        path = root / "local" / key.json_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
        files[key] = path
    return {"values": values, "files": files, "cell": cell}


def _folder_paths(cell: dict) -> list[str]:
    return [f"adapters/{a['adapter_key']}/{name}" for a in cell["adapters"] for name in PAYLOAD]


def _push_all(sync: HubSync, art: dict) -> list[str]:
    results = [sync.push(key, art["files"][key], value) for key, value in art["values"].items()]
    assert [r.state for r in results] == ["pushed"] * 3
    return [r.commit for r in results]


def _check_pulled_cell(pulled: dict, pushed: dict, fresh_base: Path) -> None:
    """Every seed's folder is under this machine's results folder at its content address, with the pushed bytes;
    every ``adapter_dir`` (and the top-level one) names it; nothing else in the value changed."""
    assert len(pulled["adapters"]) == len(pushed["adapters"]) == 2
    for mine, theirs in zip(pulled["adapters"], pushed["adapters"]):
        folder = fresh_base / "adapters" / theirs["adapter_key"]
        assert mine["adapter_dir"] == str(folder) != theirs["adapter_dir"]  # rewritten to this machine's path
        assert {k: v for k, v in mine.items() if k != "adapter_dir"} == \
               {k: v for k, v in theirs.items() if k != "adapter_dir"}
        assert sorted(p.name for p in folder.iterdir()) == sorted(PAYLOAD)  # neither README nor notes came back
        for name in PAYLOAD:
            assert (folder / name).read_bytes() == (Path(theirs["adapter_dir"]) / name).read_bytes()
        assert adapter_sha256(folder) == mine["adapter_sha256"] == theirs["adapter_sha256"]
    assert pulled["adapter_dir"] == pulled["adapters"][0]["adapter_dir"]  # the top level is seed 0's
    assert {k: v for k, v in pulled.items() if k not in ("adapter_dir", "adapters")} == \
           {k: v for k, v in pushed.items() if k not in ("adapter_dir", "adapters")}


def _pull_all_and_compare(sync: HubSync, art: dict, fresh: Path) -> None:
    for key, value in art["values"].items():
        out = fresh / key.json_path()
        assert sync.pull(key, out)
        pulled = json.loads(out.read_text())
        if key.asset == "lora_adapter":
            _check_pulled_cell(pulled, value, fresh / "smoke")
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
    model = tmp_path / f"mirror/models/{MODEL_REPO}"
    dataset_log = [json.loads(line) for line in (dataset / ".commits.jsonl").read_text().splitlines()]
    model_log = [json.loads(line) for line in (model / ".commits.jsonl").read_text().splitlines()]
    assert len(dataset_log) == 2 and len(model_log) == 1
    assert dataset_log[0]["files"] == ["README.md", "baseweight-sync/smoke/prepared_splits/fpb.json",
                                       "smoke/prepared_splits/fpb.json"]  # dataset card with the first commit only
    assert dataset_log[1]["files"] == ["baseweight-sync/smoke/local_scores/fpb/smollm2-135m__zero-shot.json",
                                       "smoke/local_scores/fpb/smollm2-135m__zero-shot.json"]
    assert dataset_log[1]["parent"] == dataset_log[0]["oid"] == oids[0]  # each push is based on the head it saw
    assert (dataset / ".head").read_text() == oids[1]
    assert model_log[0]["files"] == sorted(["README.md", "baseweight/index.json", "baseweight/lora-8/lora_adapter.json",
                                            "baseweight/lora-8/sync.json", *_folder_paths(art["cell"])])
    card = (model / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    for a in art["cell"]["adapters"]:  # one row per seed, naming its folder
        assert f"| lora-8 | {a['seed']} | `adapters/{a['adapter_key']}` |" in card
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
        ("dataset", "acme/bench-artifacts"), ("dataset", "acme/bench-artifacts"), ("model", MODEL_REPO)]
    assert commits[0]["paths"] == ["README.md", "baseweight-sync/smoke/prepared_splits/fpb.json",
                                   "smoke/prepared_splits/fpb.json"]
    assert commits[1]["paths"] == ["baseweight-sync/smoke/local_scores/fpb/smollm2-135m__zero-shot.json",
                                   "smoke/local_scores/fpb/smollm2-135m__zero-shot.json"]
    assert commits[2]["paths"] == sorted(["README.md", "baseweight/index.json", "baseweight/lora-8/lora_adapter.json",
                                          "baseweight/lora-8/sync.json", *_folder_paths(art["cell"])])
    assert all(c["revision"] == "main" for c in commits)
    # every commit names its parent: the dataset repo's initial commit, then the commit this session made
    dataset_shas = [sha for sha, _ in api.history[("dataset", "acme/bench-artifacts")]]
    model_shas = [sha for sha, _ in api.history[("model", MODEL_REPO)]]
    assert [c["parent_commit"] for c in commits] == [dataset_shas[0], dataset_shas[1], model_shas[0]]
    created = [kw for name, kw in api.calls if name == "create_repo"]
    assert all(kw["exist_ok"] and kw["private"] for kw in created)
    assert len(created) == 2  # each repo ensured once per sync session

    _pull_all_and_compare(sync, art, tmp_path / "fresh")
    everything = json.dumps(api.calls, default=str) + "\n".join(logs) + caplog.text
    everything += "".join(b.decode("utf-8", "replace") for files in api.repos.values() for b in files.values())
    everything += "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert TOKEN not in everything


def test_every_seed_pushed_from_one_root_loads_from_another(tmp_path):
    """Two training seeds pushed from machine A's root through the Hub API and pulled into machine B's root: each
    seed's folder exists under B with its recorded sha256, and local_predictions' adapter list (built from the
    value exactly as the asset does) names B's folders."""
    from baseweight_assets.inference.backends import Adapter  # what local_predictions builds from the value

    api = RecordingHfApi(token=TOKEN)
    a_results, b_results = tmp_path / "a" / "results" / "smoke", tmp_path / "b" / "results" / "smoke"
    value = trained_cell(a_results, seeds=2)
    json_a = a_results / "lora_adapter" / "fpb" / "smollm2-135m__lora-8.json"
    json_a.parent.mkdir(parents=True)
    json_a.write_text(json.dumps(value))
    assert HubSync(HubTarget(api, token=TOKEN), HUB).push(CELL, json_a, value).state == "pushed"

    json_b = b_results / "lora_adapter" / "fpb" / "smollm2-135m__lora-8.json"
    assert HubSync(HubTarget(api, token=TOKEN), HUB).pull(CELL, json_b)  # a new session: nothing cached
    pulled = json.loads(json_b.read_text())
    _check_pulled_cell(pulled, value, b_results)
    adapters = [Adapter(a["seed"], Path(a["adapter_dir"]), a["adapter_sha256"]) for a in pulled["adapters"]]
    assert [a.seed for a in adapters] == [42, 43]
    for adapter in adapters:
        assert adapter.path.is_relative_to(b_results / "adapters") and (adapter.path / "adapter_config.json").is_file()
        assert adapter_sha256(adapter.path) == adapter.sha256
    shutil.rmtree(tmp_path / "a")  # nothing of machine A is needed to load them
    assert all(adapter_sha256(a.path) == a.sha256 for a in adapters)


def test_two_cells_sharing_their_adapters_push_and_pull_each_folder_once(tmp_path):
    """lora-8 and lora-full of a task with 8 training rows train the same adapters (same content address)."""
    api = RecordingHfApi()
    sync = HubSync(HubTarget(api), HUB)
    results = tmp_path / "a" / "smoke"
    keys = [CELL, ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-full", "smoke")]
    values = [trained_cell(results, variant=k.parts[1], seeds=2) for k in keys]
    assert [a["adapter_dir"] for a in values[0]["adapters"]] == [a["adapter_dir"] for a in values[1]["adapters"]]
    details = []
    for key, value in zip(keys, values):
        path = tmp_path / "a" / key.json_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
        result = sync.push(key, path, value)
        assert result.state == "pushed"
        details.append(result.detail)
    first, second = api.commits()
    assert [p for p in first["paths"] if p.startswith("adapters/")] == sorted(_folder_paths(values[0]))
    assert [p for p in second["paths"] if not p.startswith("adapters/")] == [
        "README.md", "baseweight/index.json", "baseweight/lora-full/lora_adapter.json",
        "baseweight/lora-full/sync.json"]
    assert "adapter folders: 2 pushed, 0 already on the Hub" in details[0]
    assert "adapter folders: 0 pushed, 2 already on the Hub" in details[1]
    index = json.loads(api.repos[("model", MODEL_REPO)]["baseweight/index.json"])
    assert sorted(index["cells"]) == ["lora-8", "lora-full"] and len(index["adapters"]) == 2

    fresh = tmp_path / "b"
    for key, value in zip(keys, values):
        before = len(api.calls)
        assert sync.pull(key, fresh / key.json_path())
        _check_pulled_cell(json.loads((fresh / key.json_path()).read_text()), value, fresh / "smoke")
        fetched = [p for name, kw in api.calls[before:] if name == "snapshot_download" for p in kw["allow_patterns"]]
        assert any(p.startswith("adapters/") for p in fetched) is (key == keys[0])  # the second finds them here


def test_another_training_of_the_same_address_is_neither_pushed_over_nor_pulled_over(tmp_path):
    """Machine B trained the same inputs (same adapter_key) to other bytes: its push leaves A's folder on the Hub
    and fails visibly; a pull of A's cell into B refuses to replace B's folder, which B's own cells use."""
    api = RecordingHfApi()
    sync = HubSync(HubTarget(api), HUB)
    value_a = trained_cell(tmp_path / "a" / "smoke", seeds=1)
    path_a = tmp_path / "a" / CELL.json_path()
    path_a.parent.mkdir(parents=True)
    path_a.write_text(json.dumps(value_a))
    sync.push(CELL, path_a, value_a)
    other = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-full", "smoke")
    value_b = trained_cell(tmp_path / "b" / "smoke", variant="smollm2-135m__lora-full", seeds=1, weights_salt=b"B")
    assert value_b["adapter_key"] == value_a["adapter_key"] and value_b["adapter_sha256"] != value_a["adapter_sha256"]
    path_b = tmp_path / "b" / other.json_path()
    path_b.parent.mkdir(parents=True)
    path_b.write_text(json.dumps(value_b))
    with pytest.raises(HubSyncError, match="holds another adapter .* not replacing it"):
        sync.push(other, path_b, value_b)
    on_hub = api.repos[("model", MODEL_REPO)][f"adapters/{value_a['adapter_key']}/adapter_model.safetensors"]
    assert on_hub == (Path(value_a["adapter_dir"]) / "adapter_model.safetensors").read_bytes()  # A's stays

    out = tmp_path / "b" / CELL.json_path()
    with pytest.raises(HubSyncError, match="holds another adapter .* refusing to replace a local folder"):
        sync.pull(CELL, out)
    assert not out.exists() and adapter_sha256(Path(value_b["adapter_dir"])) == value_b["adapter_sha256"]


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
    where = r"dataset:acme/bench-artifacts/smoke/local_scores/fpb/smollm2-135m__zero-shot\.json"
    with pytest.raises(HubSyncError, match=where + ": not valid JSON"):
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
