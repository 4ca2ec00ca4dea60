"""local_predictions[task × local variant] (pool ``gpu``) and api_predictions[task × API variant] (pool ``api``).

Who answers is the ``backends`` resource's decision (Settings: vLLM or the in-process engine for local models; the
API, the labelled stand-in or the fake for API models); the asset resolves the cell and calls ``predict_cell``.
"""

from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import BACKFILL_ID_TAG

from baseweight_assets.conditions import is_lora
from baseweight_assets.defs.assets.common import log_fn, resolve_cell, skipped, status_metadata
from baseweight_assets.defs.checks import check_result
from baseweight_assets.defs.partitions import same_task_subset_of_variants
from baseweight_assets.defs.resources import BackendsResource, BenchResource, LayoutResource, ModelStoreResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.hardware import detect_hardware
from baseweight_assets.inference.backends import Adapter
from baseweight_assets.inference.cell import predict_cell
from baseweight_assets.inference.completeness import check_prediction_completeness
from baseweight_assets.inference.spend import SpendLedger, ledger_key
from baseweight_assets.models.store import weights_identity
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.storage.hashing import stable_hash


def _output(value: dict) -> dg.Output[dict]:
    meta = status_metadata(value)
    run = value.get("run") or {}
    if value.get("status") == "ok":
        meta.update({
            "rows": len(value["rows"]), "error_rows": sum(1 for r in value["rows"] if r.get("error") is not None),
            "seeds": len(value.get("seeds") or []) or None, "calls_made": run.get("calls_made"),
            "cache_hits": run.get("cache_hits"), "wall_s": run.get("wall_s"),
            "saturated_qps": run.get("saturated_qps"), "latency_p50_s": run.get("latency_p50_s"),
            "latency_n": run.get("latency_n"), "served_by": str(run.get("served_by")),
            "stand_in": bool(run.get("stand_in")), "spend_usd": run.get("spend_usd"),
            "hardware": str(run.get("hardware")),
        })
    # The data version depends only on what was asked and answered, so a rerun served from the request
    # store (zero model calls) leaves downstream scores up to date instead of stale.
    answered = [(r.get("request_hash"), r.get("output"), r.get("error")) for r in value.get("rows", [])]
    version = stable_hash([value.get("status"), value.get("reason"), answered])[:16]
    return dg.Output(value, metadata=meta, data_version=dg.DataVersion(version))


def _completeness_check_args(stage: Stage, ctx: BuildContext) -> dict:
    return dict(asset=stage.key, name=f"{stage.key}_complete", partitions_def=ctx.partitions(stage),
                additional_ins={"prepared_splits": dg.AssetIn("prepared_splits")},
                description="Every sampled test question has an answer; failed requests count as missing, and the "
                "check fails when more than run_defaults.incomplete_threshold of the cell is missing.")


def _completeness(bench: BenchResource, predictions: dict, prepared_splits: dict) -> dg.AssetCheckResult:
    return check_result(check_prediction_completeness(bench.task(prepared_splits["task"]).task_type, predictions,
                                                      prepared_splits, bench.config.run.incomplete_threshold))


def _predict(context, bench: BenchResource, layout: LayoutResource, cell, prepared: dict, answerers,
             hardware: str | None) -> dict:
    prompt = PromptTemplate.load(bench.config.prompts_dir, cell.task, labels=prepared.get("labels"))
    value = predict_cell(
        task=cell.task, prepared=prepared, prompt=prompt, model=cell.model, condition=cell.condition,
        answerers=answerers, store_path=layout.paths.prediction_store(cell.task_id, cell.variant),
        max_tokens=bench.max_output_tokens(cell.task), constrained=bench.config.run.constrained_decoding,
        latency_probe=bench.latency_probe, log=log_fn(context), variant=cell.variant, hardware=hardware)
    return value


def build_local_predictions(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(
        **ctx.asset_args(stage),
        kinds={"pytorch"},
        deps=["prompt_template"],
        ins={
            "prepared_splits": dg.AssetIn(),
            "lora_adapter": dg.AssetIn(partition_mapping=same_task_subset_of_variants(ctx.space.lora_variants)),
        },
        description="Open-model predictions: vLLM where installed, else the in-process batched engine; LoRA cells "
        "answer with each training seed's adapter.",
    )
    def local_predictions(context: dg.AssetExecutionContext, bench: BenchResource, layout: LayoutResource,
                          model_store: ModelStoreResource, backends: BackendsResource, prepared_splits: dict,
                          lora_adapter: dict | None) -> dg.Output[dict]:
        cell = resolve_cell(context, bench, prepared_splits)
        reason = cell.skip_reason
        if not reason and is_lora(cell.condition) and (lora_adapter or {}).get("status") != "ok":
            reason = (lora_adapter or {}).get("reason") or "no adapter was trained for this cell"
        if reason:
            return _output(skipped(reason, task=cell.task_id, variant=cell.variant))
        hardware = detect_hardware(bench.config.pricing, override=bench.hardware_override)["hardware"]
        base_dir = model_store.base_model_dir(cell.model, log=log_fn(context))
        adapters = ([Adapter(a["seed"], Path(a["adapter_dir"]), a["adapter_sha256"]) for a in lora_adapter["adapters"]]
                    if is_lora(cell.condition) else [Adapter(None, None, None)])
        with backends.local(cell.model, base_dir, weights_identity(cell.model, base_dir), adapters,
                            task_id=cell.task_id, variant=cell.variant,
                            server_log=layout.paths.cell_log(cell.task_id, cell.variant, "server"),
                            http_kwargs=bench.http_kwargs(cell.model, live=False),
                            measure_saturation=bench.profile_config.saturation_batch) as answerers:
            return _output(_predict(context, bench, layout, cell, prepared_splits, answerers, hardware))

    @dg.asset_check(**_completeness_check_args(stage, ctx))
    def local_predictions_complete(bench: BenchResource, local_predictions: dict, prepared_splits: dict):
        return _completeness(bench, local_predictions, prepared_splits)

    return [local_predictions, local_predictions_complete]


def build_api_predictions(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(
        **ctx.asset_args(stage),
        kinds={"openai"},
        deps=["prompt_template"],
        description="Frontier API predictions (zero-shot, 5-shot). Without an API key a local model answers, "
        "labelled as an API stand-in everywhere.",
    )
    def api_predictions(context: dg.AssetExecutionContext, bench: BenchResource, layout: LayoutResource,
                        model_store: ModelStoreResource, backends: BackendsResource,
                        prepared_splits: dict) -> dg.Output[dict]:
        cell = resolve_cell(context, bench, prepared_splits)
        if cell.skip_reason:
            return _output(cell.skipped())
        model = cell.model
        key = ledger_key(backends.main_run_id, backfill_id=context.run.tags.get(BACKFILL_ID_TAG),
                         run_id=context.run_id)
        ledger = SpendLedger(layout.paths.spend_ledger(key), bench.config.run.spend_cap_usd)
        if backends.api_is_live(model):
            if model.api_mode == "batch":
                return _output(_batch(context, bench, layout, cell, prepared_splits, backends, ledger))
            hardware = None
            stand_in, stand_in_dir, weights = None, None, None
        else:
            if not backends.fake and not model.stand_in:
                raise dg.Failure(f"{model.api_key_env} is not set and {model.id} has no stand_in model")
            stand_in = bench.model(model.stand_in) if model.stand_in else None
            stand_in_dir = model_store.base_model_dir(stand_in, log=log_fn(context)) if stand_in and \
                not backends.fake else None
            weights = weights_identity(stand_in, stand_in_dir) if stand_in_dir else None
            hardware = None if backends.fake else \
                detect_hardware(bench.config.pricing, override=bench.hardware_override)["hardware"]
            context.log.warning(f"{model.api_key_env} not set: {model.id} answered by "
                                f"{'the fake' if backends.fake else f'stand-in {model.stand_in}'}")
        with backends.api(model, stand_in=stand_in, stand_in_dir=stand_in_dir, stand_in_weights=weights,
                          http_kwargs=bench.http_kwargs(model, live=True, ledger=ledger),
                          measure_saturation=bench.profile_config.saturation_batch) as answerer:
            return _output(_predict(context, bench, layout, cell, prepared_splits, [answerer], hardware))

    @dg.asset_check(**_completeness_check_args(stage, ctx))
    def api_predictions_complete(bench: BenchResource, api_predictions: dict, prepared_splits: dict):
        return _completeness(bench, api_predictions, prepared_splits)

    return [api_predictions, api_predictions_complete]


def _batch(context, bench: BenchResource, layout: LayoutResource, cell, prepared: dict,
           backends: BackendsResource, ledger: SpendLedger) -> dict:
    """``api_mode: batch``: one OpenAI Batch API job for the cell's missing requests, at the batch discount."""
    import openai

    from baseweight_assets.inference.batch import run_batch_predictions
    from baseweight_assets.inference.endpoint import openai_endpoint
    from baseweight_assets.inference.requests import build_requests

    endpoint = openai_endpoint(cell.model)
    prompt = PromptTemplate.load(bench.config.prompts_dir, cell.task, labels=prepared.get("labels"))
    requests = build_requests(cell.task, prepared, prompt, cell.model, cell.condition,
                              max_tokens=bench.max_output_tokens(cell.task),
                              constrained=bench.config.run.constrained_decoding, endpoint=endpoint)
    run_cfg, pricing = bench.config.run, bench.config.pricing
    result = run_batch_predictions(
        requests, endpoint, layout.paths.prediction_store(cell.task_id, cell.variant),
        client=openai.OpenAI(api_key=endpoint.api_key(), base_url=endpoint.base_url),
        task_id=cell.task_id, model_id=cell.model_id, condition=cell.condition,
        price=pricing.api.get(cell.model.api_model), batch_discount=pricing.batch_discount,
        poll_interval_s=run_cfg.batch_poll_interval_s, timeout_s=run_cfg.batch_timeout_s, log=log_fn(context),
        spend_cap_usd=run_cfg.spend_cap_usd, ledger=ledger)
    result["run"]["hardware"] = None
    return {"status": "ok", "reason": None, "task": cell.task_id, "variant": cell.variant, **result}
