"""lora_adapter[task × <local model>__lora-500|lora-full] (pool ``gpu``)."""


from pathlib import Path

import dagster as dg

from baseweight_assets.cost.pricing import PricingError, hourly_rate
from baseweight_assets.defs.assets.common import log_fn, resolve_cell, status_metadata
from baseweight_assets.defs.resources import BenchResource, ModelStoreResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.hardware import detect_hardware
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.storage.hashing import stable_hash
from baseweight_assets.training.metadata import METADATA_FILE
from baseweight_assets.training.trainer import train_adapter


def build_lora_adapter(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(
        **ctx.asset_args(stage),
        kinds={"pytorch", "peft"},
        deps=["training_config"],
        description="A PEFT LoRA adapter (QLoRA on CUDA, plain LoRA on CPU) trained on the task's train split; "
        "validation loss picks the checkpoint, test is never seen.",
    )
    def lora_adapter(
        context: dg.AssetExecutionContext,
        bench: BenchResource,
        model_store: ModelStoreResource,
        prepared_splits: dict,
    ) -> dg.Output[dict]:
        cell = resolve_cell(context, bench, prepared_splits)
        if cell.skip_reason:
            value = cell.skipped()
            return dg.Output(value, metadata=status_metadata(value))
        task_id, variant, model_id, condition = cell.task_id, cell.variant, cell.model_id, cell.condition
        task, model = cell.task, cell.model

        train = prepared_splits["splits"]["train"]
        if condition == "lora-500":
            keep = set(prepared_splits["lora_500_ids"])
            train = [row for row in train if row["id"] in keep]
        prompt = PromptTemplate.load(bench.config.prompts_dir, task, labels=prepared_splits.get("labels"))

        def render_with_target(example: dict) -> list[dict]:
            return [*prompt.render_messages(example), {"role": "assistant", "content": prompt.render_target(example)}]

        config = bench.training_config(model_id, task_id)
        hw = detect_hardware()
        pricing = bench.config.pricing
        try:
            rate = hourly_rate(pricing, hw["hardware"], pricing.default_scenario)
        except PricingError as exc:
            raise dg.Failure(f"{exc} (this machine: {hw['name']}); add low/mid/high $/hour for it so the "
                             "training cost can be reported") from exc
        paths = bench.paths
        out_dir = paths.results / "adapters" / task_id / variant
        metadata = train_adapter(
            base_model_dir=model_store.base_model_dir(model, log=log_fn(context)),
            train_rows=train,
            val_rows=prepared_splits["splits"]["val"],
            render_messages=render_with_target,
            config=config,
            out_dir=out_dir,
            work_dir=paths.checkpoints / task_id / variant,
            max_epochs=bench.profile_config.max_epochs,
            hourly_rate=rate,
            hardware=hw["hardware"],
            input_fingerprint=stable_hash([[r["id"] for r in train], config.model_dump(), prompt.hash]),
            log=log_fn(context),
        )
        value = {
            "status": "ok",
            "reason": None,
            "task": task_id,
            "variant": variant,
            "adapter_dir": str(out_dir),
            "adapter_sha256": metadata.get("adapter_sha256"),
            "metadata": metadata,
        }
        return dg.Output(
            value,
            metadata=adapter_materialization_metadata(metadata, out_dir),
            data_version=dg.DataVersion(str(metadata.get("adapter_sha256"))[:16]),
        )

    return [lora_adapter]


# What the adapter's JSON says, shown on the materialization: scalars as they are, histories and versions as JSON.
_SCALARS = ("backend", "hardware", "gpu_name", "devices", "n_train", "n_val", "n_dropped_too_long", "epochs_run",
            "steps", "stopped_early", "best_val_loss", "best_checkpoint_step", "wall_time_s", "gpu_hours",
            "peak_gpu_mem_mb", "peak_mem_mb", "trained_tokens", "train_tokens_per_s", "hourly_rate_usd",
            "training_cost_usd", "input_hash", "adapter_sha256", "resumed_from", "reused")


def adapter_materialization_metadata(metadata: dict, out_dir: Path) -> dict:
    out = {"status": "ok", "adapter_dir": dg.MetadataValue.path(str(out_dir)),
           "metadata_json": dg.MetadataValue.path(str(out_dir / METADATA_FILE))}
    out.update({key: metadata.get(key) for key in _SCALARS})
    for key in ("loss_history", "val_loss_history", "library_versions"):
        out[key] = dg.MetadataValue.json(metadata.get(key) or {})
    return out
