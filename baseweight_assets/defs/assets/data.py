"""raw_dataset[task] -> prepared_splits[task]."""


import dagster as dg

from baseweight_assets.data.prepare import prepare_task
from baseweight_assets.data.raw import load_raw
from baseweight_assets.defs.partitions import PartitionSpace
from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.storage.hashing import stable_hash


def build_data_assets(space: PartitionSpace) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=space.task,
        group_name="data",
        io_manager_key="data_io",
        kinds={"python", "json"},
        deps=["task_config"],
        description="The task's rows as the source gives them: the Hub at a pinned revision, or ../shared/data.",
    )
    def raw_dataset(context: dg.AssetExecutionContext, bench: BenchResource) -> dg.Output[dict]:
        task = bench.task(context.partition_key)
        raw = load_raw(task, bench.data_root_path, use_hub=bench.use_hub)
        partial = raw["provenance"].get("partial")
        return dg.Output(
            raw,
            metadata={
                "source": raw["source"],
                "rows": dg.MetadataValue.json(raw["counts"]),
                "dataset": str(raw["provenance"].get("dataset")),
                "revision": str(raw["provenance"].get("revision")),
                "partial": partial or "no",
            },
            data_version=dg.DataVersion(_fingerprint(raw["provenance"], task.model_dump())),
        )

    @dg.asset(
        partitions_def=space.task,
        group_name="data",
        io_manager_key="data_io",
        kinds={"python", "json"},
        deps=["task_config", "prompt_template"],
        description="Seeded, stratified train/val/test pools, eval-seed resamples, few-shot set, rendered-prompt hashes.",
    )
    def prepared_splits(
        context: dg.AssetExecutionContext, bench: BenchResource, raw_dataset: dict
    ) -> dg.Output[dict]:
        task = bench.task(context.partition_key)
        prompt = PromptTemplate.load(bench.config.prompts_dir, task, labels=raw_dataset.get("labels") or task.labels)
        prepared = prepare_task(
            task,
            raw_dataset,
            prompt,
            n_eval_seeds=bench.n_eval_seeds,
            rows_per_split=bench.profile_config.rows_per_split,
        )
        counts = {name: len(rows) for name, rows in prepared["splits"].items()}
        return dg.Output(
            prepared,
            metadata={
                "rows": dg.MetadataValue.json(counts),
                "test_seeds": len(prepared["test_seeds"]),
                "prompt_hash": prepared["prompt_hash"],
                "few_shot_hash": prepared["few_shot_hash"],
                "skipped_conditions": dg.MetadataValue.json(prepared["skip_conditions"]),
                "profile": bench.profile,
            },
            data_version=dg.DataVersion(_fingerprint(prepared["prompt_hash"], prepared["few_shot_hash"], counts,
                                                     [sorted(s) for s in prepared["test_seeds"]])),
        )

    return [raw_dataset, prepared_splits]


def _fingerprint(*parts: object) -> str:
    return stable_hash(parts)[:16]
