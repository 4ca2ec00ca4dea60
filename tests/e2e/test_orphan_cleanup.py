"""``baseweight-run``'s orphan cleanup (``cli.run.single_main_run``) on a real SQLite Dagster instance: what a killed
main job left behind (its REQUESTED backfill, its unfinished runs and their pool slots) is canceled, failed and freed;
anything not tagged as the main job's is left alone; a second main job on the same instance is refused."""

from __future__ import annotations

import time
import uuid

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from baseweight_assets.cli.run import MAIN_RUN_TAG, single_main_run

POOL = "gpu"


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["p1", "p2"]), pool=POOL)
def cell() -> None: ...


@pytest.fixture
def instance(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path)) as inst:
        inst.event_log_storage.set_concurrency_slots(POOL, 4)
        yield inst


def _backfill(instance: dg.DagsterInstance, tags: dict) -> str:
    backfill_id = uuid.uuid4().hex[:8]
    instance.add_backfill(PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=dg.Definitions(assets=[cell]).resolve_asset_graph(),
        partition_names=["p1", "p2"], asset_selection=[cell.key], backfill_timestamp=time.time(), tags=tags,
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None, run_config=None))
    return backfill_id


def _run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, tags: dict, holds_slot: bool) -> str:
    run = instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", run_id=uuid.uuid4().hex, status=status, tags=tags))
    if holds_slot:
        claim = instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "cell", 0)
        assert claim.is_claimed
    return run.run_id


def _slot_holders(instance: dg.DagsterInstance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


def test_a_killed_main_jobs_leftovers_are_cleaned_and_nothing_else(instance):
    main = {MAIN_RUN_TAG: "0f3a9c1d2e4b"}
    orphan_backfill = _backfill(instance, main)
    other_backfill = _backfill(instance, {"owner": "someone in the UI"})
    orphan_started = _run(instance, dg.DagsterRunStatus.STARTED, main, holds_slot=True)
    orphan_starting = _run(instance, dg.DagsterRunStatus.STARTING, main, holds_slot=False)
    finished = _run(instance, dg.DagsterRunStatus.SUCCESS, main, holds_slot=False)
    other_started = _run(instance, dg.DagsterRunStatus.STARTED, {}, holds_slot=True)
    assert _slot_holders(instance) == {orphan_started, other_started}

    with single_main_run(instance) as cleaned:
        assert sorted(cleaned) == sorted([f"backfill {orphan_backfill}", f"run {orphan_started}",
                                          f"run {orphan_starting}"])
        # a second main job on this instance while the first holds the lock is refused, naming the lock
        with pytest.raises(SystemExit, match=r"another baseweight-run holds .*baseweight-main-run\.lock"):
            with single_main_run(instance):
                pass

    assert instance.get_backfill(orphan_backfill).status == BulkActionStatus.CANCELED
    assert instance.get_backfill(other_backfill).status == BulkActionStatus.REQUESTED
    assert _status(instance, orphan_started) == _status(instance, orphan_starting) == dg.DagsterRunStatus.FAILURE
    assert _status(instance, finished) == dg.DagsterRunStatus.SUCCESS
    assert _status(instance, other_started) == dg.DagsterRunStatus.STARTED
    assert _slot_holders(instance) == {other_started}  # the orphan's pool slot is free again, the other's held
    failure = [e for e in instance.all_logs(orphan_started) if e.dagster_event and e.dagster_event.is_run_failure]
    assert len(failure) == 1 and "orphaned" in failure[0].message

    with single_main_run(instance) as cleaned:  # the lock was released; nothing is left to clean
        assert cleaned == []


def test_a_shared_deployment_keeps_its_runs(instance):
    """``clean_orphans=False`` (``--dagster-url``): another host's main job may own them."""
    main = {MAIN_RUN_TAG: "0f3a9c1d2e4b"}
    backfill = _backfill(instance, main)
    run = _run(instance, dg.DagsterRunStatus.STARTED, main, holds_slot=True)
    with single_main_run(instance, clean_orphans=False) as cleaned:
        assert cleaned == []
    assert instance.get_backfill(backfill).status == BulkActionStatus.REQUESTED
    assert _status(instance, run) == dg.DagsterRunStatus.STARTED and _slot_holders(instance) == {run}
