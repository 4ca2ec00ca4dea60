"""Done-when of issue 13: a pull-then-materialize on a clean machine trains nothing.

Machine A (its own repo root, Dagster instance and copy of the base model) materializes fpb's prepared splits and
a LoRA adapter with the real graph (a tiny random model stands in for the base model, so training takes seconds)
and pushes both to a local mirror. Machine B (another root, a fresh instance, the same base model bytes at another
path) hydrates from the mirror and re-materializes the adapter: the trainer finds the pulled adapter published
for the same input hash and reuses it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.defs.hub_sync import hydrate_from_hub
from baseweight_assets.settings import HUB_MIRROR_ENV as MIRROR_ENV
from baseweight_assets.defs.resources import ModelStoreResource
from baseweight_assets.settings import Settings
from baseweight_assets.training.metadata import METADATA_FILE, adapter_sha256

from .helpers import REPO, SHARED_DATA, write_deployment

TASK = "fpb"
PARTITION = f"{TASK}|smollm2-135m__lora-500"


class TinyModelStore(ModelStoreResource):
    """The machine's copy of the base model: a tiny random Llama instead of SmolLM2 (same code path after this)."""

    tiny_dir: str

    def base_model_dir(self, model: ModelConfig, log=print) -> Path:
        return Path(self.tiny_dir)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import torch

    from tests.training.tiny_model import build_tiny_model

    torch.set_num_threads(1)
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _machine(root: Path, tiny_model: Path, mirror: Path, monkeypatch) -> tuple[dg.Definitions, dict, Settings]:
    config_dir = root / "configs"
    shutil.copytree(REPO / "configs", config_dir)
    write_deployment(config_dir, hub_enabled=True)
    model_dir = shutil.copytree(tiny_model, root / "models" / "base")  # same bytes, this machine's path
    settings = Settings.from_env({
        MIRROR_ENV: str(mirror),
        "BASEWEIGHT_REPO_ROOT": str(root / "repo"), "BASEWEIGHT_CONFIG_DIR": str(config_dir),
        "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"), "BASEWEIGHT_DATA_DIR": str(SHARED_DATA),
        "BASEWEIGHT_MODELS_CACHE": str(root / "models"), "BASEWEIGHT_PROFILE": "smoke",
    })
    defs = build_definitions(settings)
    resources = {**defs.resources, "model_store": TinyModelStore(models_cache=str(root / "models"),
                                                                 tiny_dir=str(model_dir))}
    return defs, resources, settings


def _materialize(defs, resources, instance, selection, partition):
    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=selection, partition_key=partition,
                            resources=resources, instance=instance)
    assert result.success
    return result


def test_pull_then_materialize_on_a_clean_machine_trains_nothing(tmp_path, tiny_model, monkeypatch):
    if not (SHARED_DATA / TASK / "raw").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    mirror = tmp_path / "mirror"

    # machine A: prepare, train, push
    defs_a, resources_a, settings_a = _machine(tmp_path / "a", tiny_model, mirror, monkeypatch)
    with dg.DagsterInstance.ephemeral() as instance_a:
        _materialize(defs_a, resources_a, instance_a, ["raw_dataset", "prepared_splits"], TASK)
        trained = _materialize(defs_a, resources_a, instance_a, ["lora_adapter"], PARTITION)
    shown_a = trained.asset_materializations_for_node("lora_adapter")[0].metadata
    assert shown_a["reused"].value is False and shown_a["steps"].value > 0
    assert shown_a["hub_sync"].value.startswith("pushed model:baseweight-ai/")
    value_a = trained.output_for_node("lora_adapter")

    # machine B: nothing local, a fresh instance; hydrate, then materialize the adapter again
    defs_b, resources_b, settings_b = _machine(tmp_path / "b", tiny_model, mirror, monkeypatch)
    logs: list[str] = []
    with dg.DagsterInstance.ephemeral() as instance_b:
        pulled = hydrate_from_hub(defs_b, instance_b, log=logs.append)
        assert pulled == {"prepared_splits": [TASK], "lora_adapter": [PARTITION]}, logs
        adapter_dir_b = settings_b.repo_root / "results" / "smoke" / "adapters" / TASK / "smollm2-135m__lora-500"
        assert adapter_sha256(adapter_dir_b) == value_a["adapter_sha256"]
        again = _materialize(defs_b, resources_b, instance_b, ["lora_adapter"], PARTITION)

    shown_b = again.asset_materializations_for_node("lora_adapter")[0].metadata
    value_b = again.output_for_node("lora_adapter")
    assert shown_b["reused"].value is True  # the trainer returned early: no training happened on B
    assert value_b["adapter_dir"] == str(adapter_dir_b) != value_a["adapter_dir"]
    assert value_b["adapter_sha256"] == value_a["adapter_sha256"]
    assert shown_b["input_hash"].value == shown_a["input_hash"].value  # no machine-specific path in the hash
    assert not (settings_b.repo_root / "checkpoints").exists()  # not even a work folder was made
    training = json.loads((adapter_dir_b / METADATA_FILE).read_text())
    assert training["steps"] == shown_a["steps"].value and training["reused"] is False  # A's record, as trained
