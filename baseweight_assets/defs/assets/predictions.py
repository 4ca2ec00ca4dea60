"""local_predictions[task × local variant] (pool ``gpu``) and api_predictions[task × API variant] (pool ``api``)."""

import json
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Callable, ContextManager, Iterator
from pathlib import Path

import dagster as dg

from baseweight_assets.conditions import is_lora
from baseweight_assets.defs.assets.common import log_fn, resolve_cell, skipped, status_metadata
from baseweight_assets.defs.checks import check_result
from baseweight_assets.defs.partitions import same_task_subset_of_variants
from baseweight_assets.defs.resources import BenchResource, LocalServerResource, ModelStoreResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.inference.completeness import check_prediction_completeness
from baseweight_assets.hardware import detect_hardware
from baseweight_assets.inference.endpoint import Endpoint, api_key_configured, local_endpoint, resolve_api_endpoint
from baseweight_assets.inference.requests import build_requests, request_hash
from baseweight_assets.inference.runner import run_predictions
from baseweight_assets.inference.store import PredictionStore
from baseweight_assets.models.embedded import READY_MARKER
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.storage.hashing import stable_hash
from baseweight_assets.training.serving_folder import make_serving_folder
from baseweight_assets.variants import split_variant


NO_SERVER_URL = "http://127.0.0.1:9/v1"  # never contacted: used only while checking the request store


def _predict(context, bench: BenchResource, task_id: str, variant: str, prepared: dict,
             make_endpoint: Callable[[str], Endpoint], start_server: Callable[[], ContextManager[str]]) -> dict:
    """Build the requests, then start a model server only if some request is not already answered in the
    store: a rerun with unchanged inputs makes zero model calls and starts nothing."""
    model_id, condition = split_variant(variant)
    task, model = bench.task(task_id), bench.model(model_id)
    prompt = PromptTemplate.load(bench.config.prompts_dir, task, labels=prepared.get("labels"))
    run_cfg = bench.config.run
    store_path = bench.paths.results / "prediction_store" / task_id / f"{variant}.jsonl"

    offline = make_endpoint(NO_SERVER_URL)  # neither the requests nor their cache keys depend on the address
    requests = build_requests(task, prepared, prompt, model, condition, max_tokens=bench.max_output_tokens(task),
                              constrained=run_cfg.constrained_decoding, endpoint=offline)

    def run(endpoint: Endpoint) -> dict:
        paid = model.kind == "api" and not endpoint.stand_in
        result = run_predictions(
            requests, endpoint, store_path,
            task_id=task_id, model_id=model_id, condition=condition,
            concurrency=run_cfg.api_concurrency if paid else run_cfg.local_concurrency,
            timeout_s=run_cfg.request_timeout_s, max_attempts=run_cfg.max_attempts, warmup=run_cfg.warmup_requests,
            price=bench.config.pricing.api.get(model.api_model) if paid else None,
            spend_cap_usd=run_cfg.spend_cap_usd,
            rpm=run_cfg.requests_per_minute, tpm=run_cfg.tokens_per_minute,
            log=log_fn(context),
        )
        result["run"]["hardware"] = detect_hardware()["hardware"] if endpoint.served_by != "openai" else None
        return {"status": "ok", "reason": None, "task": task_id, "variant": variant, **result}

    if PredictionStore(store_path).covers([request_hash(r, offline) for r in requests]):
        context.log.info(f"{task_id}/{variant}: all {len(requests)} requests already answered; no server started")
        return run(offline)
    with start_server() as base_url:
        return run(make_endpoint(base_url))


@contextmanager
def _built_then_served(build: Callable[[], object], serve: Callable[[], ContextManager[str]]) -> Iterator[str]:
    build()
    with serve() as base_url:
        yield base_url


VLLM_MAX_MODEL_LEN = 4096  # longest prompt (a CUAD window + few-shot) plus the longest output fits


def vllm_adapter_name(task_id: str, variant: str) -> str:
    """The name an adapter is registered under in `vllm serve --lora-modules NAME=PATH`."""
    return f"{task_id}--{variant}"


def _weights_id(model_dir: Path) -> str:
    """Which weights answered: the embedded model's GGUF hash, or the Hub snapshot folder name (a commit)."""
    marker = model_dir / READY_MARKER
    if marker.is_file():
        return json.loads(marker.read_text()).get("gguf_sha256", "embedded")[:16]
    return model_dir.name


def _output(value: dict) -> dg.Output[dict]:
    meta = status_metadata(value)
    run = value.get("run") or {}
    errors = sum(1 for r in value.get("rows", []) if r.get("error"))
    if value.get("status") == "ok":
        meta.update({
            "rows": len(value["rows"]),
            "error_rows": errors,
            "calls_made": run.get("calls_made"),
            "cache_hits": run.get("cache_hits"),
            "wall_s": run.get("wall_s"),
            "throughput_qps": run.get("throughput_qps"),
            "latency_p50_s": run.get("latency_p50_s"),
            "served_by": str(run.get("served_by")),
            "stand_in": bool(run.get("stand_in")),
            "spend_usd": run.get("spend_usd"),
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
    return check_result(check_prediction_completeness(predictions, prepared_splits,
                                                      bench.config.run.incomplete_threshold))


def build_local_predictions(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(
        **ctx.asset_args(stage),
        kinds={"openai"},
        deps=["prompt_template"],
        ins={
            "prepared_splits": dg.AssetIn(),
            "lora_adapter": dg.AssetIn(partition_mapping=same_task_subset_of_variants(ctx.space.lora_variants)),
        },
        description="Open-model predictions through a local OpenAI-compatible server (vLLM on GPU, "
        "`transformers serve` on CPU); LoRA variants serve their adapter.",
    )
    def local_predictions(
        context: dg.AssetExecutionContext,
        bench: BenchResource,
        model_store: ModelStoreResource,
        local_server: LocalServerResource,
        prepared_splits: dict,
        lora_adapter: dict | None,
    ) -> dg.Output[dict]:
        cell = resolve_cell(context, bench, prepared_splits)
        task_id, variant, condition, model = cell.task_id, cell.variant, cell.condition, cell.model
        reason = cell.skip_reason
        if not reason and is_lora(condition) and (lora_adapter or {}).get("status") != "ok":
            reason = (lora_adapter or {}).get("reason") or "no adapter was trained for this cell"
        if reason:
            return _output(skipped(reason, task=task_id, variant=variant))

        base_dir = model_store.base_model_dir(model, log=log_fn(context))
        lora = is_lora(condition)
        adapter_sha = (lora_adapter or {}).get("adapter_sha256")
        log_path = bench.paths.results / "logs" / task_id / f"{variant}.server.log"
        if model.serving_engine == "vllm":
            # vLLM serves the bf16 base and loads the adapter by name (--enable-lora --lora-modules).
            name = vllm_adapter_name(task_id, variant) if lora else None
            adapters = {name: Path(lora_adapter["adapter_dir"])} if lora else {}
            server = partial(local_server.serve_vllm, base_dir, model.revision or "main", adapters, log_path,
                             max_model_len=VLLM_MAX_MODEL_LEN)
            served_model = name or str(base_dir)
        else:
            # `transformers serve` cannot load a bare adapter: serve base weights + tokenizer + adapter together,
            # from a folder built only when a server starts (a fully cached rerun starts none).
            served_model, server = str(base_dir), partial(local_server.serve, log_path)
            if lora:
                folder = bench.paths.results / "serving" / task_id / variant
                served_model = str(folder)
                server = partial(_built_then_served,
                                 partial(make_serving_folder, base_dir, Path(lora_adapter["adapter_dir"]), folder),
                                 server)

        weights_id = _weights_id(base_dir)

        def endpoint_at(base_url: str) -> Endpoint:
            return local_endpoint(model, base_url=base_url, served_model=served_model,
                                  adapter_sha256=adapter_sha, weights_id=weights_id)

        return _output(_predict(context, bench, task_id, variant, prepared_splits, endpoint_at, server))

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
    def api_predictions(
        context: dg.AssetExecutionContext,
        bench: BenchResource,
        model_store: ModelStoreResource,
        local_server: LocalServerResource,
        prepared_splits: dict,
    ) -> dg.Output[dict]:
        cell = resolve_cell(context, bench, prepared_splits)
        if cell.skip_reason:
            return _output(cell.skipped())
        task_id, variant, model_id, model = cell.task_id, cell.variant, cell.model_id, cell.model
        if api_key_configured(model):
            def endpoint_at(_unused: str) -> Endpoint:
                return resolve_api_endpoint(model, stand_in_url=None, stand_in_model=None)

            server = partial(nullcontext, None)
        else:
            if not model.stand_in:
                raise dg.Failure(f"{model.api_key_env} is not set and {model_id} has no stand_in model")
            stand_in = bench.model(model.stand_in)
            stand_in_dir = model_store.base_model_dir(stand_in, log=log_fn(context))
            context.log.warning(f"{model.api_key_env} not set: {model_id} answered by stand-in {stand_in.id}")

            def endpoint_at(base_url: str) -> Endpoint:
                return resolve_api_endpoint(model, stand_in_url=base_url, stand_in_model=str(stand_in_dir))

            server = partial(local_server.serve, bench.paths.results / "logs" / task_id / f"{variant}.server.log")
        return _output(_predict(context, bench, task_id, variant, prepared_splits, endpoint_at, server))

    @dg.asset_check(**_completeness_check_args(stage, ctx))
    def api_predictions_complete(bench: BenchResource, api_predictions: dict, prepared_splits: dict):
        return _completeness(bench, api_predictions, prepared_splits)

    return [api_predictions, api_predictions_complete]
