"""Asset checks where a stage can be wrong silently; each wraps a pure validator."""


import dagster as dg

from baseweight_assets.data import checks as data_checks
from baseweight_assets.defs.partitions import PartitionSpace
from baseweight_assets.defs.resources import BenchResource

_SEVERITY = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}


def _result(outcome: data_checks.CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=_SEVERITY[outcome.severity],
        description=outcome.description,
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in outcome.metadata.items()},
    )


def build_checks(space: PartitionSpace) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(asset="raw_dataset", partitions_def=space.task, blocking=True,
                    description="Raw row counts equal what the source is known to hold (a truncated file fails).")
    def raw_row_counts(context: dg.AssetCheckExecutionContext, bench: BenchResource, raw_dataset: dict):
        return _result(data_checks.check_raw_row_counts(bench.task(context.partition_key), raw_dataset))

    @dg.asset_check(asset="prepared_splits", partitions_def=space.task, blocking=True,
                    description="No test example (exact or near-duplicate) appears in train, val or few-shot.")
    def no_train_test_overlap(context: dg.AssetCheckExecutionContext, prepared_splits: dict):
        return _result(data_checks.check_no_train_test_overlap(prepared_splits))

    @dg.asset_check(asset="prepared_splits", partitions_def=space.task,
                    description="Every label of the label set is present where the sampling promised it.")
    def label_coverage(context: dg.AssetCheckExecutionContext, prepared_splits: dict):
        return _result(data_checks.check_label_coverage(prepared_splits))

    @dg.asset_check(asset="prepared_splits", partitions_def=space.task,
                    description="Class balance of train and test samples (CUAD: 50/50 present/absent).")
    def class_balance(context: dg.AssetCheckExecutionContext, prepared_splits: dict):
        return _result(data_checks.check_class_balance(prepared_splits))

    def _complete(predictions: dict, prepared: dict) -> dg.AssetCheckResult:
        if predictions.get("status") != "ok":
            return dg.AssetCheckResult(passed=True, description=f"skipped: {predictions.get('reason')}")
        wanted = {q for seed in prepared["test_seeds"] for q in seed}
        answered = {r["question_id"] for r in predictions["rows"]}
        missing = sorted(wanted - answered)
        errors = sum(1 for r in predictions["rows"] if r.get("error"))
        return dg.AssetCheckResult(
            passed=not missing,
            description="every sampled test question has a prediction or an error row",
            metadata={"missing": dg.MetadataValue.json(missing[:50]), "n_missing": len(missing), "error_rows": errors},
        )

    @dg.asset_check(asset="local_predictions", partitions_def=space.task_x_local, additional_ins={"prepared_splits": dg.AssetIn("prepared_splits")})
    def local_predictions_complete(context, local_predictions: dict, prepared_splits: dict):
        return _complete(local_predictions, prepared_splits)

    @dg.asset_check(asset="api_predictions", partitions_def=space.task_x_api, additional_ins={"prepared_splits": dg.AssetIn("prepared_splits")})
    def api_predictions_complete(context, api_predictions: dict, prepared_splits: dict):
        return _complete(api_predictions, prepared_splits)

    return [raw_row_counts, no_train_test_overlap, label_coverage, class_balance,
            local_predictions_complete, api_predictions_complete]
