"""local_scores / api_scores[task × variant]: a cell's predictions -> metric with CIs, seed spread, error categories.

Each scores asset shares its predictions asset's partitions, so a backfill materializes a cell's predictions and
its scores in one run. MBPP code runs in the sandbox (its own pod spec in Kubernetes: ``sandbox`` in the registry).
"""

import dagster as dg

from baseweight_assets.defs.assets.common import resolve_cell, skipped, status_metadata
from baseweight_assets.defs.resources import BenchResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.scoring.seeded import score_cell as score_seeded_cell


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


def score_cell(context: dg.AssetExecutionContext, bench: BenchResource, prepared_splits: dict,
               predictions: dict) -> dg.Output[dict]:
    cell = resolve_cell(context, bench, prepared_splits)
    task_id, variant, task = cell.task_id, cell.variant, cell.task
    ident = {"task": task_id, "variant": variant, "model": cell.model_id, "condition": cell.condition}
    if predictions.get("status") != "ok":
        value = skipped(predictions.get("reason") or "predictions were skipped", **ident)
        return dg.Output(value, metadata=status_metadata(value))
    result = score_seeded_cell(
        task, prepared_splits, predictions["rows"], labels=prepared_splits.get("labels"),
        n_bootstrap=bench.bootstrap_resamples, seed=bench.config.run.bootstrap_seed,
        sandbox=task.sandbox.limits(bench.profile_config.sandbox_timeout_s or None),
        incomplete_threshold=bench.config.run.incomplete_threshold,
        allow_unsandboxed=bench.allow_unsandboxed_code,
    )
    run = dict(predictions.get("run") or {})
    # token totals of one answering pass (seed 0's adapter for a LoRA cell): what one query costs
    rows = [r for r in predictions["rows"] if r.get("seed") in (None, min(predictions.get("seeds") or [None]))]
    run["total_input_tokens"] = sum(r.get("input_tokens") or 0 for r in rows)
    run["total_cached_input_tokens"] = sum(r.get("cached_input_tokens") or 0 for r in rows)
    run["total_output_tokens"] = sum(r.get("output_tokens") or 0 for r in rows)
    run["n_requests"] = len(rows)
    value = {"status": "ok", "reason": None, **ident, **result, "run": run,
             "samples": raw_samples(rows, result["per_example"]),
             "sandbox": (result.get("secondary") or {}).get("sandbox"),
             "provenance": prepared_splits.get("provenance"), "profile": bench.profile,
             "prompt_hash": prepared_splits.get("prompt_hash"), "few_shot_hash": prepared_splits.get("few_shot_hash")}
    return dg.Output(value, metadata={
        "status": "ok", "metric_id": result["metric_id"], "metric": result["metric"],
        "ci_95": f"[{result['ci_lo']}, {result['ci_hi']}]", "seed_mean": result.get("seed_mean"),
        "seed_std": result.get("seed_std"), "n": result["n"],
        "error_counts": dg.MetadataValue.json(result["error_counts"]), "stand_in": bool(run.get("stand_in")),
        "complete": bool((result.get("completeness") or {}).get("complete", True)),
        "missing_share": (result.get("completeness") or {}).get("missing_share"),
        "training_seeds": result.get("n_training_seeds"),
    })


def build_scores(stage: Stage, ctx: BuildContext) -> list:
    """``<family>_scores`` scores ``<family>_predictions`` (local or API), partition for partition."""
    predictions = stage.key.removesuffix("_scores") + "_predictions"

    @dg.asset(**ctx.asset_args(stage), kinds={"python"}, ins={"predictions": dg.AssetIn(predictions)},
              description="The task metric with a bootstrap CI, mean ± std over eval seeds, secondary metrics and "
              f"one error category per question, for the cells of {predictions}. MBPP code runs in the sandbox.")
    def scores(context: dg.AssetExecutionContext, bench: BenchResource, prepared_splits: dict,
               predictions: dict) -> dg.Output[dict]:
        return score_cell(context, bench, prepared_splits, predictions)

    return [scores]
