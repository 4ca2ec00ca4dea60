"""Stage declarations (``pipeline.stages``) -> Dagster definitions: builders, decorator arguments, stage jobs.

A builder is ``build(stage, ctx) -> list`` of assets, source assets and asset checks. It takes every decorator
argument the registry decides (name, partitions, group, IO manager, pool, pod spec) from ``ctx.asset_args(stage)``
so none of them is written a second time in an asset module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from baseweight_assets.defs.hub_sync import hub_sync_check
from baseweight_assets.defs.partitions import PartitionSpace
from baseweight_assets.pipeline.stages import Stage, jobs, validate

Builder = Callable[[Stage, "BuildContext"], Sequence[object]]


@dataclass(frozen=True)
class BuildContext:
    space: PartitionSpace
    gpu_op_tags: dict
    sandbox_op_tags: dict

    def partitions(self, stage: Stage) -> dg.PartitionsDefinition | None:
        return getattr(self.space, stage.partitions) if stage.partitions else None

    def op_tags(self, stage: Stage) -> dict:
        if stage.gpu:
            return dict(self.gpu_op_tags)
        if stage.sandbox:
            return dict(self.sandbox_op_tags)
        return {}

    def asset_args(self, stage: Stage) -> dict:
        """The ``@dg.asset`` arguments the registry owns."""
        args: dict = {"name": stage.key, "group_name": stage.group, "io_manager_key": stage.io_manager,
                      "partitions_def": self.partitions(stage)}
        if stage.pool:
            args["pool"] = stage.pool
        tags = self.op_tags(stage)
        if tags:
            args["op_tags"] = tags
        return args

    def source_args(self, stage: Stage) -> dict:
        """The ``@dg.observable_source_asset`` arguments the registry owns."""
        return {"name": stage.key, "group_name": stage.group, "partitions_def": self.partitions(stage)}


def resolve_builder(stage: Stage) -> Builder:
    module, _, name = stage.builder.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"stage {stage.key!r}: cannot load builder {stage.builder!r}: {exc}") from exc


def build_stages(stages: tuple[Stage, ...], ctx: BuildContext) -> tuple[list, list]:
    """(assets and source assets, asset checks) for every stage, in registry order; a synced stage also gets the
    ``hub_sync`` check that fails when its latest materialization did not reach the Hub."""
    assets, checks = [], []
    for stage in validate(stages):
        for definition in resolve_builder(stage)(stage, ctx):
            (checks if isinstance(definition, dg.AssetChecksDefinition) else assets).append(definition)
        if stage.hub_sync:
            checks.append(hub_sync_check(stage.key, ctx.partitions(stage)))
    return assets, checks


def stage_jobs(stages: tuple[Stage, ...], ctx: BuildContext) -> list[dg.UnresolvedAssetJobDefinition]:
    """One asset job per stage job name, so ``dagster job backfill -j <job>`` covers that stage from the CLI."""
    out = []
    for name, members in jobs(stages).items():
        keys = [s.key for s in members]  # the job's partitions are inferred from its (one-definition) selection
        out.append(dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys),
                                       description=f"Stage job for {', '.join(keys)}."))
    return out
