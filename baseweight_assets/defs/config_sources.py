"""Observable source assets for the inputs that live in files, so an edit marks exactly its dependents stale.

``task_config[task]`` (configs/tasks/<task>.yaml), ``prompt_template[task]`` (prompts/<task>/) and
``training_config[task|<model>__<lora condition>]`` (configs/training/<model>.yaml with the task's
overrides) each report a data version per partition: a hash of the parsed content, so whitespace and
comment edits do not invalidate anything. Observe them after an edit (UI "Observe sources", or the
``observe_task_sources`` / ``observe_training_configs`` jobs); the assets that read them then show as stale.
"""

from __future__ import annotations

import dagster as dg

from baseweight_assets.defs.partitions import PartitionSpace
from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.storage.hashing import stable_hash
from baseweight_assets.variants import split_variant


def _version(obj: object) -> dg.DataVersion:
    return dg.DataVersion(stable_hash(obj)[:16])


def build_config_sources(space: PartitionSpace) -> list[dg.SourceAsset]:
    @dg.observable_source_asset(partitions_def=space.task, group_name="configs",
                                description="configs/tasks/<task>.yaml, parsed.")
    def task_config(bench: BenchResource) -> dg.DataVersionsByPartition:
        return dg.DataVersionsByPartition(
            {t: _version(bench.task(t).model_dump(mode="json")) for t in space.tasks})

    @dg.observable_source_asset(partitions_def=space.task, group_name="configs",
                                description="prompts/<task>/system.j2 and user.j2.")
    def prompt_template(bench: BenchResource) -> dg.DataVersionsByPartition:
        prompts = bench.config.prompts_dir
        return dg.DataVersionsByPartition(
            {t: dg.DataVersion(PromptTemplate.load(prompts, bench.task(t), labels=None).hash[:16]) for t in space.tasks})

    @dg.observable_source_asset(partitions_def=space.task_x_lora, group_name="configs",
                                description="configs/training/<model>.yaml with the task and profile overrides applied.")
    def training_config(bench: BenchResource) -> dg.DataVersionsByPartition:
        versions = {}
        for task in space.tasks:
            for variant in space.lora_variants:
                model, _ = split_variant(variant)
                versions[f"{task}|{variant}"] = _version(bench.training_config(model, task).model_dump(mode="json"))
        return dg.DataVersionsByPartition(versions)

    return [task_config, prompt_template, training_config]


OBSERVE_JOBS = {  # a job covers one partitions definition, hence two
    "observe_task_sources": ("task_config", "prompt_template"),
    "observe_training_configs": ("training_config",),
}


def build_observe_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    """Re-observe the config sources in one run each (schedule them, or run them after editing configs)."""
    return [dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys)) for name, keys in OBSERVE_JOBS.items()]
