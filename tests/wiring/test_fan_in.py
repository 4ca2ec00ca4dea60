"""Every fan-in is a mapping partition key -> value, for one upstream partition as for many (UPathIOManager alone
hands a single partition over bare, which broke dashboard_data in a project with one task)."""

from __future__ import annotations

import dagster as dg
import pytest

from baseweight_assets.defs.io_managers import FAN_IN, JsonArtifactIOManagerFactory


def _defs(tasks: list[str], fan_in: bool):
    part = dg.StaticPartitionsDefinition(tasks)

    @dg.asset(partitions_def=part)
    def summary(context) -> dict:
        return {"task": context.partition_key}

    @dg.asset(ins={"summary": dg.AssetIn(metadata={"allow_missing_partitions": True, FAN_IN: fan_in})})
    def dashboard(summary) -> dict:
        return {"type": type(summary).__name__, "keys": sorted(summary) if isinstance(summary, dict) else None,
                "tasks": sorted(v["task"] for v in summary.values()) if isinstance(summary, dict) and
                all(isinstance(v, dict) for v in summary.values()) else None}

    return [summary, dashboard]


@pytest.mark.parametrize("tasks", [["fpb"], ["fpb", "mbpp"]])
def test_fan_in_is_a_mapping_for_one_partition_and_for_many(tmp_path, tasks):
    assets = _defs(tasks, fan_in=True)
    resources = {"io_manager": JsonArtifactIOManagerFactory(base_path=str(tmp_path))}
    instance = dg.DagsterInstance.ephemeral()
    for task in tasks:
        assert dg.materialize(assets, selection=["summary"], partition_key=task, resources=resources,
                              instance=instance).success
    result = dg.materialize(assets, selection=["dashboard"], resources=resources, instance=instance)
    value = result.output_for_node("dashboard")
    assert value == {"type": "dict", "keys": tasks, "tasks": tasks}


def test_without_the_flag_one_partition_arrives_bare(tmp_path):
    """The control: the failure mode the flag exists for, so the test above can fail."""
    assets = _defs(["fpb"], fan_in=False)
    resources = {"io_manager": JsonArtifactIOManagerFactory(base_path=str(tmp_path))}
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize(assets, selection=["summary"], partition_key="fpb", resources=resources, instance=instance)
    value = dg.materialize(assets, selection=["dashboard"], resources=resources, instance=instance).output_for_node("dashboard")
    assert value["keys"] == ["task"]  # the bare value's keys, not partition keys


def test_fan_in_with_nothing_materialized_is_an_empty_mapping(tmp_path):
    assets = _defs(["fpb", "mbpp"], fan_in=True)
    resources = {"io_manager": JsonArtifactIOManagerFactory(base_path=str(tmp_path))}
    value = dg.materialize(assets, selection=["dashboard"], resources=resources,
                           instance=dg.DagsterInstance.ephemeral()).output_for_node("dashboard")
    assert value == {"type": "dict", "keys": [], "tasks": []}
