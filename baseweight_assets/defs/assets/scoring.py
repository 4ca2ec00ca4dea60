"""scores[task × variant]: predictions -> metrics with CIs, seed spread and error categories."""


import dagster as dg

from baseweight_assets.defs.assets.common import resolve_cell, skipped, status_metadata
from baseweight_assets.defs.partitions import PartitionSpace, same_task_subset_of_variants
from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.scoring.sandbox import SandboxLimits
from baseweight_assets.scoring.score import score_predictions


def raw_samples(rows: list[dict], per_example: list[dict], limit: int = 6, max_chars: int = 600) -> list[dict]:
    """A few outputs exactly as the model wrote them (the site shows them escaped), with their category."""
    category = {e["question_id"]: e.get("category") for e in per_example}
    picked, seen = [], set()
    for row in rows:
        qid = row.get("question_id")
        if qid in seen or row.get("output") is None:
            continue
        seen.add(qid)
        picked.append({"question_id": qid, "category": category.get(qid), "output": row["output"][:max_chars]})
        if len(picked) == limit:
            break
    return picked


def build_scoring_assets(space: PartitionSpace) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=space.task_x_variant,
        group_name="scoring",
        io_manager_key="results_io",
        kinds={"python"},
        backfill_policy=dg.BackfillPolicy.multi_run(1),
        ins={
            "prepared_splits": dg.AssetIn(),
            "local_predictions": dg.AssetIn(partition_mapping=same_task_subset_of_variants(space.local_variants)),
            "api_predictions": dg.AssetIn(partition_mapping=same_task_subset_of_variants(space.api_variants)),
        },
        description="The task metric with an example-level bootstrap CI, mean ± std over eval seeds, secondary "
        "metrics and one error category per example. MBPP code runs in the sandbox.",
    )
    def scores(
        context: dg.AssetExecutionContext,
        bench: BenchResource,
        prepared_splits: dict,
        local_predictions: dict | None,
        api_predictions: dict | None,
    ) -> dg.Output[dict]:
        # The cell's own skip reason already reached the predictions asset, which recorded it.
        cell = resolve_cell(context, bench, prepared_splits)
        task_id, variant, task = cell.task_id, cell.variant, cell.task
        predictions = local_predictions if local_predictions is not None else api_predictions
        ident = {"task": task_id, "variant": variant, "model": cell.model_id, "condition": cell.condition}
        if predictions is None:
            raise dg.Failure(f"no predictions found for {task_id}|{variant}")
        if predictions.get("status") != "ok":
            value = skipped(predictions.get("reason") or "predictions were skipped", **ident)
            return dg.Output(value, metadata=status_metadata(value))
        result = score_predictions(
            task,
            prepared_splits,
            predictions["rows"],
            labels=prepared_splits.get("labels"),
            n_bootstrap=bench.bootstrap_resamples,
            seed=bench.config.run.bootstrap_seed,
            sandbox=(SandboxLimits.from_task(task.sandbox, bench.profile_config.sandbox_timeout_s or None)
                     if task.task_type == "code" else None),
        )
        run = dict(predictions.get("run") or {})
        rows = predictions["rows"]
        run["total_input_tokens"] = sum(r.get("input_tokens") or 0 for r in rows)
        run["total_output_tokens"] = sum(r.get("output_tokens") or 0 for r in rows)
        run["n_requests"] = len(rows)
        value = {"status": "ok", "reason": None, **ident, **result, "run": run,
                 "samples": raw_samples(rows, result["per_example"]),
                 "provenance": prepared_splits.get("provenance"), "profile": bench.profile,
                 "prompt_hash": prepared_splits.get("prompt_hash"),
                 "few_shot_hash": prepared_splits.get("few_shot_hash")}
        return dg.Output(
            value,
            metadata={
                "status": "ok",
                "metric_id": result["metric_id"],
                "metric": result["metric"],
                "ci_95": f"[{result['ci_lo']}, {result['ci_hi']}]",
                "seed_mean": result.get("seed_mean"),
                "seed_std": result.get("seed_std"),
                "n": result["n"],
                "error_counts": dg.MetadataValue.json(result["error_counts"]),
                "stand_in": bool(run.get("stand_in")),
            },
        )

    return [scores]
