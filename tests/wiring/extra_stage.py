"""A stage that exists only in a test registry: ``task_card[task]``, built like every real stage."""

import dagster as dg

from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.pipeline.stages import Stage

TASK_CARD = Stage("task_card", "publish_task_cards", "report", "tests.wiring.extra_stage:build_task_card", "task",
                  "data_io", hub_sync=True)


def build_task_card(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(**ctx.asset_args(stage), deps=["task_config"], description="A one-line card per task (test only).")
    def task_card(context: dg.AssetExecutionContext, bench: BenchResource) -> dict:
        task = bench.task(context.partition_key)
        return {"task": task.id, "name": task.name, "metric": task.metric}

    return [task_card]
