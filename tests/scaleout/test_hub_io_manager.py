"""The Dagster side of Hub sync: push after materialization, pull a missing upstream instead of recomputing."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import dagster as dg

from baseweight_assets.defs.hub_sync import (
    artifact_io_managers, hub_sync_check, hub_sync_failures, hydrate_from_hub,
)
from baseweight_assets.settings import HUB_MIRROR_ENV as MIRROR_ENV
from baseweight_assets.settings import SECRET_SUFFIXES, Settings

from .helpers import REPO, write_deployment


def _with_env(settings: Settings, env: dict) -> Settings:
    """``settings`` as Settings.from_env would read them with ``env`` (a Hub mirror and/or tokens) set."""
    return dataclasses.replace(settings, hub_mirror=Path(env[MIRROR_ENV]) if env.get(MIRROR_ENV) else None,
                               _secrets={k: v for k, v in env.items() if k.endswith(SECRET_SUFFIXES)})

TASKS = dg.StaticPartitionsDefinition(["fpb", "mbpp"])
CALLS: list[str] = []


@dg.asset(partitions_def=TASKS, io_manager_key="data_io")
def prepared_splits(context) -> dict:
    CALLS.append(f"prepared_splits[{context.partition_key}]")
    return {"task": context.partition_key, "rows": [1, 2, 3]}


@dg.asset(partitions_def=TASKS, io_manager_key="results_io")
def task_summary(context, prepared_splits: dict) -> dict:
    CALLS.append(f"task_summary[{context.partition_key}]")
    return {"task": context.partition_key, "n": len(prepared_splits["rows"])}


def _settings(tmp_path, enabled: bool) -> Settings:
    config_dir = tmp_path / "configs"
    if not config_dir.exists():
        shutil.copytree(REPO / "configs", config_dir)
    write_deployment(config_dir, hub_enabled=enabled)
    return Settings.from_env({"BASEWEIGHT_REPO_ROOT": str(tmp_path / "repo"), "BASEWEIGHT_CONFIG_DIR": str(config_dir),
                              "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"), "BASEWEIGHT_PROFILE": "smoke"})


def _run(selection, key, resources, instance=None):
    return dg.materialize([prepared_splits, task_summary], selection=selection, partition_key=key,
                          resources=resources, instance=instance or dg.DagsterInstance.ephemeral())


def test_push_per_partition_then_pull_on_a_fresh_machine(tmp_path):
    mirror = tmp_path / "mirror"
    settings = _settings(tmp_path, enabled=True)
    resources = artifact_io_managers(_with_env(settings, {MIRROR_ENV: str(mirror)}))
    CALLS.clear()
    for task in ("fpb", "mbpp"):
        result = _run(["prepared_splits"], task, resources)
        mat = result.asset_materializations_for_node("prepared_splits")[0]
        assert len(mat.metadata["hub_commit"].value) == 40
        assert mat.metadata["hub_sync"].value.startswith("pushed dataset:baseweight-ai/baseweight-bench-artifacts@")
    log = (mirror / "datasets/baseweight-ai/baseweight-bench-artifacts/.commits.jsonl").read_text().splitlines()
    assert [json.loads(line)["files"][-1] for line in log] == [  # (sorted: after the baseweight-sync/ record)
        "smoke/prepared_splits/fpb.json", "smoke/prepared_splits/mbpp.json"]

    # A fresh machine: no local artifacts, a new instance. The downstream run pulls its input.
    shutil.rmtree(settings.repo_root)
    CALLS.clear()
    result = _run(["task_summary"], "fpb", resources)
    assert result.success and CALLS == ["task_summary[fpb]"]
    assert result.output_for_node("task_summary") == {"task": "fpb", "n": 3}
    assert (settings.repo_root / "data/smoke/prepared_splits/fpb.json").is_file()


def test_disabled_sync_is_the_plain_io_manager(tmp_path):
    settings = _settings(tmp_path, enabled=False)
    resources = artifact_io_managers(_with_env(settings, {MIRROR_ENV: str(tmp_path / "mirror"), "HF_TOKEN": "hf_abcdefghijklmnop"}))
    result = _run(["prepared_splits"], "fpb", resources)
    assert "hub_commit" not in result.asset_materializations_for_node("prepared_splits")[0].metadata
    assert not (tmp_path / "mirror").exists()


def test_enabled_without_token_or_mirror_stays_off(tmp_path):
    settings = _settings(tmp_path, enabled=True)
    assert artifact_io_managers(_with_env(settings, {}))["data_io"].hub.enabled is False


def test_token_is_an_env_var_reference_not_a_value(tmp_path):
    settings = _settings(tmp_path, enabled=True)
    secret = "hf_abcdefghijklmnopqrstuvwxyz123456"
    hub = artifact_io_managers(_with_env(settings, {"HF_TOKEN": secret}))["results_io"].hub
    assert hub.enabled and secret not in repr(hub)


def test_fresh_machine_hydrates_from_the_hub_and_skips_recompute(tmp_path):
    mirror = tmp_path / "mirror"
    first = _settings(tmp_path / "a", enabled=True)
    resources = artifact_io_managers(_with_env(first, {MIRROR_ENV: str(mirror)}))
    _run(["prepared_splits"], "fpb", resources)

    second = _settings(tmp_path / "b", enabled=True)
    defs = dg.Definitions(assets=[prepared_splits, task_summary],
                          resources=artifact_io_managers(_with_env(second, {MIRROR_ENV: str(mirror)})))
    with dg.DagsterInstance.ephemeral() as instance:
        assert hydrate_from_hub(defs, instance, log=lambda _m: None) == {"prepared_splits": ["fpb"]}
        assert instance.get_materialized_partitions(dg.AssetKey("prepared_splits")) == {"fpb"}
        assert hydrate_from_hub(defs, instance, log=lambda _m: None) == {}  # idempotent
    local = second.repo_root / "data/smoke/prepared_splits/fpb.json"
    assert json.loads(local.read_text()) == {"task": "fpb", "rows": [1, 2, 3]}


def test_a_failed_push_is_visible_in_metadata_check_and_summary_and_the_artifact_stays(tmp_path):
    settings = _settings(tmp_path, enabled=True)
    blocked = tmp_path / "mirror"
    blocked.write_text("a file where the mirror folder should be")  # every push fails (not transient)
    resources = artifact_io_managers(_with_env(settings, {MIRROR_ENV: str(blocked)}))
    check = hub_sync_check("prepared_splits", TASKS)
    instance = dg.DagsterInstance.ephemeral()

    def run():
        return dg.materialize([prepared_splits, check], partition_key="fpb", resources=resources, instance=instance)

    result = run()
    assert result.success  # the step itself succeeds: its local artifact is written and valid
    shown = result.asset_materializations_for_node("prepared_splits")[0].metadata
    assert shown["hub_sync"].value.startswith("failed: push prepared_splits[fpb]: ")
    assert "hub_commit" not in shown
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.description.startswith("not on the Hub: push prepared_splits[fpb]: ")
    [line] = hub_sync_failures(settings)
    assert line.startswith("hub sync failed: prepared_splits[fpb] (smoke): push prepared_splits[fpb]: ")
    local = settings.repo_root / "data/smoke/prepared_splits/fpb.json"
    assert json.loads(local.read_text()) == {"task": "fpb", "rows": [1, 2, 3]}

    blocked.unlink()  # the mirror is back: the next materialization pushes, the check passes, the line goes
    result = run()
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed is True and evaluation.description.startswith("pushed ")
    assert hub_sync_failures(settings) == []


def test_the_check_passes_when_sync_is_off(tmp_path):
    settings = _settings(tmp_path, enabled=False)
    result = dg.materialize([prepared_splits, hub_sync_check("prepared_splits", TASKS)], partition_key="fpb",
                            resources=artifact_io_managers(_with_env(settings, {})), instance=dg.DagsterInstance.ephemeral())
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed is True and evaluation.description == "hub sync off"
    assert not (settings.repo_root / "data/smoke/.hub").exists()  # sync off writes nothing beyond the artifact


def test_hydration_refuses_a_tampered_partition_and_pulls_the_rest(tmp_path):
    mirror = tmp_path / "mirror"
    first = _settings(tmp_path / "a", enabled=True)
    for task in ("fpb", "mbpp"):
        _run(["prepared_splits"], task, artifact_io_managers(_with_env(first, {MIRROR_ENV: str(mirror)})))
    tampered = mirror / "datasets/baseweight-ai/baseweight-bench-artifacts/smoke/prepared_splits/fpb.json"
    tampered.write_text('{"task": "fpb", "rows": [666]}')

    second = _settings(tmp_path / "b", enabled=True)
    defs = dg.Definitions(assets=[prepared_splits, task_summary],
                          resources=artifact_io_managers(_with_env(second, {MIRROR_ENV: str(mirror)})))
    refused: list[str] = []
    with dg.DagsterInstance.ephemeral() as instance:
        assert hydrate_from_hub(defs, instance, log=lambda _m: None, refused=refused) == {"prepared_splits": ["mbpp"]}
        assert instance.get_materialized_partitions(dg.AssetKey("prepared_splits")) == {"mbpp"}
    assert len(refused) == 1 and refused[0].startswith("prepared_splits[fpb]: ") and "does not match" in refused[0]
    assert not (second.repo_root / "data/smoke/prepared_splits/fpb.json").exists()
