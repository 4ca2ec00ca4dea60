"""Editing a prompt, a task config or a training config marks exactly the dependent partitions stale."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
# Dagster's own staleness resolver (what the UI's 'stale' badge uses); semi-internal, re-check on upgrades.
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.settings import Settings

from .helpers import REPO, SHARED_DATA

LORA_CELL = dg.MultiPartitionKey({"task": "ledgar", "variant": "smollm2-135m__lora-8"})  # skipped offline: cheap
CELLS = [("raw_dataset", "fpb"), ("prepared_splits", "fpb"), ("raw_dataset", "ledgar"),
         ("prepared_splits", "ledgar"), ("lora_adapter", LORA_CELL)]


@pytest.fixture
def bench(tmp_path):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    shutil.copytree(REPO / "prompts", tmp_path / "prompts")
    settings = Settings.from_env({
        "BASEWEIGHT_REPO_ROOT": str(tmp_path / "repo"), "BASEWEIGHT_CONFIG_DIR": str(tmp_path / "configs"),
        "BASEWEIGHT_PROMPTS_DIR": str(tmp_path / "prompts"), "BASEWEIGHT_DATA_DIR": str(SHARED_DATA),
        "BASEWEIGHT_PROFILE": "smoke"})
    instance = dg.DagsterInstance.ephemeral()

    def defs():
        return build_definitions(settings)  # rebuilt after each edit, as a code-location reload would

    def observe():
        d = defs()
        for job in ("observe_task_sources", "observe_training_configs"):
            assert d.resolve_job_def(job).execute_in_process(instance=instance).success

    def stale() -> set:
        resolver = CachingStaleStatusResolver(instance, defs().resolve_asset_graph(), LoadingContextForTest(instance))
        return {(a, str(p)) for a, p in CELLS if resolver.get_status(dg.AssetKey(a), p) == StaleStatus.STALE}

    observe()
    d = defs()
    everything = [*d.assets, *d.asset_checks]
    for task in ("fpb", "ledgar"):
        assert dg.materialize(everything, selection=["raw_dataset", "prepared_splits"], partition_key=task,
                              resources=d.resources, instance=instance).success
    result = dg.materialize(everything, selection=["lora_adapter"], partition_key=LORA_CELL,
                            resources=d.resources, instance=instance)
    assert result.output_for_node("lora_adapter")["status"] == "skipped"
    assert stale() == set()
    return tmp_path, observe, stale


def _edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1))


def test_prompt_edit_marks_that_tasks_prepared_splits_stale(bench):
    root, observe, stale = bench
    (root / "prompts" / "fpb" / "system.j2").write_text((root / "prompts" / "fpb" / "system.j2").read_text() + "\nBe brief.")
    assert stale() == set()  # nothing changes until the sources are observed
    observe()
    assert stale() == {("prepared_splits", "fpb")}


def test_task_config_edit_marks_that_task_stale(bench):
    root, observe, stale = bench
    _edit(root / "configs" / "tasks" / "ledgar.yaml", "max_output_tokens: 32", "max_output_tokens: 33")
    observe()
    # Dagster marks direct readers stale; their dependents follow once a re-run yields a new data version.
    assert stale() == {("raw_dataset", "ledgar"), ("prepared_splits", "ledgar")}


def test_training_config_edit_marks_that_models_adapters_stale(bench):
    root, observe, stale = bench
    _edit(root / "configs" / "training" / "smollm2-135m.yaml", "learning_rate: 5.0e-4", "learning_rate: 4.0e-4")
    observe()
    assert stale() == {("lora_adapter", str(LORA_CELL))}


def test_comment_only_edit_changes_nothing(bench):
    root, observe, stale = bench
    path = root / "configs" / "tasks" / "fpb.yaml"
    path.write_text(path.read_text() + "\n# a comment\n")
    observe()
    assert stale() == set()
