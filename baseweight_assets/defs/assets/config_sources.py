"""Observable sources for the inputs that live in files, so an edit marks exactly its dependents stale.

``task_config[task]`` (configs/tasks/<task>.yaml), ``prompt_template[task]`` (prompts/<task>/) and
``training_config[task|<model>__<lora condition>]`` (configs/training/<model>.yaml with the task's overrides) each
report a data version per partition: a hash of the parsed content, so whitespace and comment edits invalidate
nothing. Observe them after an edit (UI "Observe sources", or the ``observe_task_sources`` /
``observe_training_configs`` stage jobs); the assets that read them then show as stale.
"""

from __future__ import annotations

import dagster as dg

from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.storage.hashing import stable_hash
from baseweight_assets.variants import split_variant


def _version(obj: object) -> dg.DataVersion:
    return dg.DataVersion(stable_hash(obj)[:16])


def build_task_config(stage: Stage, ctx: BuildContext) -> list:
    tasks = ctx.space.tasks

    @dg.observable_source_asset(**ctx.source_args(stage), description="configs/tasks/<task>.yaml, parsed.")
    def task_config(bench: BenchResource) -> dg.DataVersionsByPartition:
        return dg.DataVersionsByPartition({t: _version(bench.task(t).model_dump(mode="json")) for t in tasks})

    return [task_config]


def build_prompt_template(stage: Stage, ctx: BuildContext) -> list:
    tasks = ctx.space.tasks

    @dg.observable_source_asset(**ctx.source_args(stage), description="prompts/<task>/system.j2 and user.j2.")
    def prompt_template(bench: BenchResource) -> dg.DataVersionsByPartition:
        prompts = bench.config.prompts_dir
        return dg.DataVersionsByPartition(
            {t: dg.DataVersion(PromptTemplate.load(prompts, bench.task(t), labels=None).hash[:16]) for t in tasks})

    return [prompt_template]


def build_training_config(stage: Stage, ctx: BuildContext) -> list:
    tasks, lora_variants = ctx.space.tasks, ctx.space.lora_variants

    @dg.observable_source_asset(**ctx.source_args(stage),
                                description="configs/training/<model>.yaml with the task and profile overrides applied.")
    def training_config(bench: BenchResource) -> dg.DataVersionsByPartition:
        versions = {}
        for task in tasks:
            for variant in lora_variants:
                model, _ = split_variant(variant)
                versions[f"{task}|{variant}"] = _version(bench.training_config(model, task).model_dump(mode="json"))
        return dg.DataVersionsByPartition(versions)

    return [training_config]
