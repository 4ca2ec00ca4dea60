"""Small helpers shared by the model-stage assets."""


from dataclasses import dataclass

import dagster as dg

from baseweight_assets.config.schema import ModelConfig, TaskConfig
from baseweight_assets.data.prepare import condition_skip_reason
from baseweight_assets.defs.partitions import keys_of
from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.variants import split_variant


def skipped(reason: str, **extra: object) -> dict:
    """A cell the data or config cannot support: materialized with its reason, never silently absent."""
    return {"status": "skipped", "reason": reason, **extra}


def status_metadata(value: dict) -> dict:
    meta: dict = {"status": value.get("status", "ok")}
    if value.get("reason"):
        meta["reason"] = value["reason"]
    return meta


def log_fn(context: dg.AssetExecutionContext):
    return lambda msg: context.log.info(str(msg))


@dataclass(frozen=True)
class Cell:
    """One task × variant partition with its configs and, if the data or config cannot support it, why."""

    task_id: str
    variant: str
    model_id: str
    condition: str
    task: TaskConfig
    model: ModelConfig
    skip_reason: str | None

    def skipped(self) -> dict:
        return skipped(self.skip_reason or "skipped", task=self.task_id, variant=self.variant)


def resolve_cell(context: dg.AssetExecutionContext, bench: BenchResource, prepared: dict) -> Cell:
    task_id, variant = keys_of(context)
    model_id, condition = split_variant(variant)
    task = bench.task(task_id)
    return Cell(task_id, variant, model_id, condition, task, bench.model(model_id),
                condition_skip_reason(prepared, condition))
