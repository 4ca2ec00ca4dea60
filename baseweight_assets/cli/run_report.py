"""After the backfill: which partitions failed, which were not run because an upstream partition failed, and the
share of the runs' wall time spent outside asset steps (process start, imports, event log, IO-manager setup)."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG

_FAILED_STEP = {"FAILURE"}


@dataclass
class Outcome:
    failed: dict[str, str] = field(default_factory=dict)  # "asset[partition]" -> first error line
    not_run: list[str] = field(default_factory=list)  # downstream of a failure
    runs: int = 0
    run_wall_s: float = 0.0
    step_s: float = 0.0

    @property
    def overhead_share(self) -> float | None:
        """1 - (seconds inside asset steps) / (seconds of run wall time), over every run of the backfill. A run's wall
        time starts when the launcher starts its process (RUN_STARTING), so process start and imports count."""
        return None if self.run_wall_s <= 0 else 1.0 - self.step_s / self.run_wall_s


def _label(asset: str, partition: str | None) -> str:
    return f"{asset}[{partition}]" if partition else asset


def _first_error(instance: dg.DagsterInstance, run_id: str, step_key: str) -> str:
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = record.event_log_entry.dagster_event
        if event and event.step_key == step_key and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:  # the user code's own exception is at the bottom of the chain
                error = error.cause
            return error.message.strip().splitlines()[0][:300] if error.message.strip() else "failed"
    return "failed (see the run's logs in the Dagster UI)"


def _launched_at(instance: dg.DagsterInstance, run_id: str) -> float | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_STARTING, limit=1).records
    return records[0].timestamp if records else None


def backfill_outcome(instance: dg.DagsterInstance, backfill_id: str) -> Outcome:
    out = Outcome()
    records = instance.get_run_records(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    for record in records:
        run = record.dagster_run
        partition = run.tags.get(PARTITION_NAME_TAG)
        launched = _launched_at(instance, run.run_id) or record.start_time
        if launched and record.end_time:
            out.runs += 1
            out.run_wall_s += record.end_time - launched
        for stat in instance.get_run_step_stats(run.run_id):
            if stat.start_time and stat.end_time:
                out.step_s += stat.end_time - stat.start_time
            if stat.status and stat.status.value in _FAILED_STEP:
                out.failed[_label(stat.step_key, partition)] = _first_error(instance, run.run_id, stat.step_key)
    backfill = instance.get_backfill(backfill_id)
    data = backfill.asset_backfill_data if backfill else None
    if data is not None:
        for key in data.failed_and_downstream_subset.iterate_asset_partitions():
            label = _label(key.asset_key.to_user_string(), key.partition_key)
            if label not in out.failed:
                out.not_run.append(label)
    out.not_run.sort()
    return out
