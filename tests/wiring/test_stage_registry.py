"""The stage registry is the whole graph: a stage added to a (test-only) registry is built, gets its stage job,
is planned by the main job's backfill, syncs to the Hub and materializes, with no other code changed."""

from __future__ import annotations

import dataclasses
import json
import shutil

import dagster as dg
import pytest

from baseweight_assets.cli.backfill_plan import Selection, plan_backfill
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.pipeline.stages import STAGES, Stage, jobs, synced_assets, validate
from baseweight_assets.settings import Settings

from tests.scaleout.helpers import REPO, write_deployment
from tests.wiring.extra_stage import TASK_CARD

REGISTRY = (*STAGES, TASK_CARD)


@pytest.fixture
def settings(tmp_path) -> Settings:
    config_dir = tmp_path / "configs"
    shutil.copytree(REPO / "configs", config_dir)
    write_deployment(config_dir, hub_enabled=True)
    settings = Settings.from_env({"BASEWEIGHT_REPO_ROOT": str(tmp_path / "repo"), "BASEWEIGHT_CONFIG_DIR": str(config_dir),
                                  "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"), "BASEWEIGHT_PROFILE": "smoke"})
    return dataclasses.replace(settings, hub_mirror=tmp_path / "mirror")


def test_a_new_stage_is_built_planned_synced_and_materialized(settings, tmp_path):
    defs = build_definitions(settings, REGISTRY)
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("task_card")
    assert key in graph.get_all_asset_keys()
    assert graph.get(key).partitions_def.get_partition_keys() == graph.get(dg.AssetKey("raw_dataset")).partitions_def.get_partition_keys()
    assert defs.resolve_job_def("publish_task_cards").partitions_def is not None  # its stage job, for CLI backfills
    assert "task_card" in synced_assets(REGISTRY) and "task_card" not in synced_assets(STAGES)

    plan = plan_backfill(defs, Selection(("fpb",), ("smollm2-135m",)), {}, [], stages=REGISTRY)
    assert plan["task_card"] == ["fpb"]
    assert "task_card" not in plan_backfill(build_definitions(settings), Selection(("fpb",), ("smollm2-135m",)), {}, [])

    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=["task_card"], partition_key="fpb",
                            resources=defs.resources, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    local = settings.paths.data / "task_card" / "fpb.json"
    assert json.loads(local.read_text())["task"] == "fpb"
    pushed = list((tmp_path / "mirror").rglob("task_card/fpb.json"))
    assert pushed, "the new stage's artifact reached the Hub mirror"
    checks = {c.name for c in graph.get_check_keys_for_assets({key})}
    assert "hub_sync" in checks


def test_registry_rejects_duplicates_and_jobs_mixing_partitions():
    with pytest.raises(ValueError, match="duplicate asset keys"):
        validate((*STAGES, STAGES[-1]))
    mixed = (*STAGES, Stage("oops", "prepare_data", "data", "x:y", "task_x_lora"))
    with pytest.raises(ValueError, match="prepare_data"):
        jobs(mixed)
