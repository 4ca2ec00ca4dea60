"""Done-when of issue 13: a pull-then-materialize on a clean machine trains nothing.

Machine A (its own repo root, Dagster instance and copy of the base model) materializes fpb's prepared splits and
a LoRA adapter with the real graph (a tiny random model stands in for the base model, so training takes seconds)
under two training seeds, and pushes them to a local mirror. Machine B (another root, a fresh instance, the same base
model bytes at another path) hydrates from the mirror: every seed's adapter lands at its content address under B's
results folder, local_predictions of the cell is handed B's folders (its backends record them and answer with the
fake, so no model is loaded), and re-materializing the adapter trains nothing: the trainer finds each pulled adapter
published for the same input hash and reuses it.
"""

from __future__ import annotations

import json
import shutil
from contextlib import nullcontext
from pathlib import Path

import dagster as dg
import pytest
import yaml

from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.defs.hub_sync import hydrate_from_hub
from baseweight_assets.settings import HUB_MIRROR_ENV as MIRROR_ENV
from baseweight_assets.defs.resources import BackendsResource, ModelStoreResource
from baseweight_assets.inference.backends import Adapter, Answerer
from baseweight_assets.inference.endpoint import fake_endpoint
from baseweight_assets.inference.fake_backend import FakeBackend
from baseweight_assets.paths import ProjectPaths
from baseweight_assets.settings import Settings
from baseweight_assets.training.metadata import METADATA_FILE, adapter_sha256

from .helpers import REPO, SHARED_DATA, write_deployment

TASK = "fpb"
PARTITION = f"{TASK}|smollm2-135m__lora-4"  # a smoke size of the curve (configs/run_defaults.yaml: 4, 8, full)
SEEDS = 2  # more than the smoke profile's 1, so every training seed's folder has to travel
HANDED: list[list[Adapter]] = []  # what local_predictions handed its backends


class TinyModelStore(ModelStoreResource):
    """The machine's copy of the base model: a tiny random Llama instead of SmolLM2 (same code path after this)."""

    tiny_dir: str

    def base_model_dir(self, model: ModelConfig, log=print) -> Path:
        return Path(self.tiny_dir)


class RecordingBackends(BackendsResource):
    """local_predictions' backends: records the adapters the asset collected from its lora_adapter input and
    answers with the fake (no model is loaded)."""

    def local(self, model, base_dir, weights, adapters, *, task_id, variant, server_log, http_kwargs, **engine):
        HANDED.append(list(adapters))
        return nullcontext([Answerer(FakeBackend(fake_endpoint(model, adapter_sha256=a.sha256)), a.seed)
                            for a in adapters])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import torch

    from tests.training.tiny_model import build_tiny_model

    torch.set_num_threads(1)
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _machine(root: Path, tiny_model: Path, mirror: Path) -> tuple[dg.Definitions, dict, Settings]:
    config_dir = root / "configs"
    shutil.copytree(REPO / "configs", config_dir)
    write_deployment(config_dir, hub_enabled=True)
    run_defaults = config_dir / "run_defaults.yaml"
    data = yaml.safe_load(run_defaults.read_text())
    data["profiles"]["smoke"]["training_seeds"] = SEEDS
    run_defaults.write_text(yaml.safe_dump(data))
    model_dir = shutil.copytree(tiny_model, root / "models" / "base")  # same bytes, this machine's path
    settings = Settings.from_env({
        MIRROR_ENV: str(mirror),
        "BASEWEIGHT_REPO_ROOT": str(root / "repo"), "BASEWEIGHT_CONFIG_DIR": str(config_dir),
        "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"), "BASEWEIGHT_DATA_DIR": str(SHARED_DATA),
        "BASEWEIGHT_MODELS_CACHE": str(root / "models"), "BASEWEIGHT_PROFILE": "smoke",
    })
    defs = build_definitions(settings)
    resources = {**defs.resources, "backends": RecordingBackends(),
                 "model_store": TinyModelStore(models_cache=str(root / "models"), tiny_dir=str(model_dir))}
    return defs, resources, settings


def _materialize(defs, resources, instance, selection, partition):
    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=selection, partition_key=partition,
                            resources=resources, instance=instance)
    assert result.success
    return result


def test_pull_then_materialize_on_a_clean_machine_trains_nothing(tmp_path, tiny_model):
    if not (SHARED_DATA / TASK / "raw").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    mirror = tmp_path / "mirror"

    # machine A: prepare, train every seed, push
    defs_a, resources_a, settings_a = _machine(tmp_path / "a", tiny_model, mirror)
    with dg.DagsterInstance.ephemeral() as instance_a:
        _materialize(defs_a, resources_a, instance_a, ["raw_dataset", "prepared_splits"], TASK)
        trained = _materialize(defs_a, resources_a, instance_a, ["lora_adapter"], PARTITION)
    shown_a = trained.asset_materializations_for_node("lora_adapter")[0].metadata
    assert shown_a["reused"].value is False and shown_a["steps"].value > 0 and shown_a["seeds"].value == SEEDS
    assert shown_a["hub_sync"].value.startswith("pushed model:baseweight-ai/")
    value_a = trained.output_for_node("lora_adapter")
    keys = [a["adapter_key"] for a in value_a["adapters"]]
    assert len(set(keys)) == SEEDS

    # machine B: nothing local, a fresh instance; hydrate, predict the cell, then materialize the adapter again
    defs_b, resources_b, settings_b = _machine(tmp_path / "b", tiny_model, mirror)
    adapters_b = ProjectPaths(settings_b.repo_root, "smoke").adapters
    logs: list[str] = []
    HANDED.clear()
    with dg.DagsterInstance.ephemeral() as instance_b:
        pulled = hydrate_from_hub(defs_b, instance_b, log=logs.append)
        assert pulled == {"prepared_splits": [TASK], "lora_adapter": [PARTITION]}, logs
        for seed in value_a["adapters"]:  # every seed's folder, at its content address under B's results
            assert adapter_sha256(adapters_b / seed["adapter_key"]) == seed["adapter_sha256"]

        # the predictions of the cell find every seed's adapter on B, from the pulled value alone. (Whether the
        # step then succeeds is the predictions' business, not the Hub's: what it was handed is asserted here.)
        dg.materialize([*defs_b.assets, *defs_b.asset_checks], selection=["local_predictions"], partition_key=PARTITION,
                       resources=resources_b, instance=instance_b, raise_on_error=False)
        [handed] = HANDED
        assert [(a.seed, a.path, a.sha256) for a in handed] == [
            (s["seed"], adapters_b / s["adapter_key"], s["adapter_sha256"]) for s in value_a["adapters"]]
        assert all(adapter_sha256(a.path) == a.sha256 for a in handed)

        again = _materialize(defs_b, resources_b, instance_b, ["lora_adapter"], PARTITION)

    shown_b = again.asset_materializations_for_node("lora_adapter")[0].metadata
    value_b = again.output_for_node("lora_adapter")
    assert shown_b["reused"].value is True  # the trainer returned early: no training happened on B
    assert shown_b["hub_sync"].value.startswith("pushed model:baseweight-ai/")
    [model_log] = mirror.glob("models/*/*/.commits.jsonl")
    commits = [json.loads(line)["files"] for line in model_log.read_text().splitlines()]
    assert len(commits) == 2 and sum(f.startswith("adapters/") for f in commits[0]) >= 2 * SEEDS
    assert not [f for f in commits[1] if f.startswith("adapters/")]  # B's re-push: the folders were there already
    assert [a["reused"] for a in value_b["adapters"]] == [True] * SEEDS
    assert [a["adapter_dir"] for a in value_b["adapters"]] == [str(adapters_b / k) for k in keys]
    assert value_b["adapter_dir"] == str(adapters_b / keys[0]) != value_a["adapter_dir"]
    assert [a["adapter_sha256"] for a in value_b["adapters"]] == [a["adapter_sha256"] for a in value_a["adapters"]]
    assert shown_b["input_hash"].value == shown_a["input_hash"].value  # no machine-specific path in the hash
    assert not (settings_b.repo_root / "checkpoints").exists()  # not even a work folder was made
    for seed in value_a["adapters"]:
        training = json.loads((adapters_b / seed["adapter_key"] / METADATA_FILE).read_text())
        assert training["steps"] == seed["metadata"]["steps"] and training["reused"] is False  # A's record
