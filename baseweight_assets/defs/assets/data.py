"""raw_dataset[task] -> prepared_splits[task], with the data-quality checks that guard them."""

import dagster as dg

from baseweight_assets.data import checks as data_checks
from baseweight_assets.data.prepare import prepare_task
from baseweight_assets.data.raw import load_raw
from baseweight_assets.defs.checks import check_result
from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.storage.hashing import stable_hash


def _fingerprint(*parts: object) -> str:
    return stable_hash(parts)[:16]


def build_raw_dataset(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(**ctx.asset_args(stage), kinds={"python", "json"}, deps=["task_config"],
              description="The task's rows as the source gives them: the Hub at a pinned revision, or ../shared/data.")
    def raw_dataset(context: dg.AssetExecutionContext, bench: BenchResource) -> dg.Output[dict]:
        task = bench.task(context.partition_key)
        raw = load_raw(task, bench.data_root_path, use_hub=bench.use_hub)
        partial = raw["provenance"].get("partial")
        return dg.Output(
            raw,
            metadata={"source": raw["source"], "rows": dg.MetadataValue.json(raw["counts"]),
                      "dataset": str(raw["provenance"].get("dataset")),
                      "revision": str(raw["provenance"].get("revision")), "partial": partial or "no"},
            data_version=dg.DataVersion(_fingerprint(raw["provenance"], task.model_dump())),
        )

    @dg.asset_check(asset=stage.key, partitions_def=ctx.partitions(stage), blocking=True,
                    description="Raw row counts equal what the source is known to hold (a truncated file fails).")
    def raw_row_counts(context: dg.AssetCheckExecutionContext, bench: BenchResource, raw_dataset: dict):
        return check_result(data_checks.check_raw_row_counts(bench.task(context.partition_key), raw_dataset))

    return [raw_dataset, raw_row_counts]


def build_prepared_splits(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(**ctx.asset_args(stage), kinds={"python", "json"}, deps=["task_config", "prompt_template"],
              description="Seeded, stratified train/val/test pools, eval-seed resamples, nested LoRA subsets, "
              "few-shot set, rendered-prompt hashes.")
    def prepared_splits(context: dg.AssetExecutionContext, bench: BenchResource, raw_dataset: dict) -> dg.Output[dict]:
        task = bench.task(context.partition_key)
        prompt = PromptTemplate.load(bench.config.prompts_dir, task, labels=raw_dataset.get("labels") or task.labels)
        prepared = prepare_task(task, raw_dataset, prompt, n_eval_seeds=bench.n_eval_seeds,
                                rows_per_split=bench.profile_config.rows_per_split,
                                lora_sizes=bench.lora_sizes(task.id))
        counts = {name: len(rows) for name, rows in prepared["splits"].items()}
        return dg.Output(
            prepared,
            metadata={"rows": dg.MetadataValue.json(counts), "test_seeds": len(prepared["test_seeds"]),
                      "prompt_hash": prepared["prompt_hash"], "few_shot_hash": prepared["few_shot_hash"],
                      "skipped_conditions": dg.MetadataValue.json(prepared["skip_conditions"]),
                      "profile": bench.profile},
            data_version=dg.DataVersion(_fingerprint(prepared["prompt_hash"], prepared["few_shot_hash"], counts,
                                                     [sorted(s) for s in prepared["test_seeds"]])),
        )

    pdef = ctx.partitions(stage)

    @dg.asset_check(asset=stage.key, partitions_def=pdef, blocking=True,
                    description="No test example (exact or near-duplicate) appears in train, val or few-shot.")
    def no_train_test_overlap(context: dg.AssetCheckExecutionContext, prepared_splits: dict):
        return check_result(data_checks.check_no_train_test_overlap(prepared_splits))

    @dg.asset_check(asset=stage.key, partitions_def=pdef,
                    description="Every label of the label set is present where the sampling promised it.")
    def label_coverage(context: dg.AssetCheckExecutionContext, prepared_splits: dict):
        return check_result(data_checks.check_label_coverage(prepared_splits))

    @dg.asset_check(asset=stage.key, partitions_def=pdef,
                    description="Class balance of train and test samples (CUAD: 50/50 present/absent).")
    def class_balance(context: dg.AssetCheckExecutionContext, prepared_splits: dict):
        return check_result(data_checks.check_class_balance(prepared_splits))

    return [prepared_splits, no_train_test_overlap, label_coverage, class_balance]
