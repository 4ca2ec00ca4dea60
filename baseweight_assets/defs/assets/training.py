"""lora_adapter[task × <local model>__lora-<N>] (pool ``gpu``): one adapter per training seed, content-addressed."""

import dagster as dg

from baseweight_assets.cost.pricing import PricingError, hourly_rate
from baseweight_assets.defs.assets.common import log_fn, resolve_cell, status_metadata
from baseweight_assets.defs.resources import BenchResource, LayoutResource, ModelStoreResource
from baseweight_assets.defs.stage_wiring import BuildContext
from baseweight_assets.hardware import detect_hardware
from baseweight_assets.models.store import weights_identity
from baseweight_assets.pipeline.stages import Stage
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.training.cell import train_lora_cell
from baseweight_assets.training.metadata import METADATA_FILE


def build_lora_adapter(stage: Stage, ctx: BuildContext) -> list:
    @dg.asset(
        **ctx.asset_args(stage),
        kinds={"pytorch", "peft"},
        deps=["training_config"],
        description="LoRA adapters (QLoRA on CUDA, plain LoRA on CPU) trained on the cell's nested subset of the "
        "train split, one per training seed; validation loss picks the checkpoint, test is never seen. Adapters "
        "live at the hash of their inputs, so identical inputs train once.",
    )
    def lora_adapter(context: dg.AssetExecutionContext, bench: BenchResource, layout: LayoutResource,
                     model_store: ModelStoreResource, prepared_splits: dict) -> dg.Output[dict]:
        cell = resolve_cell(context, bench, prepared_splits)
        if cell.skip_reason:
            value = cell.skipped()
            return dg.Output(value, metadata=status_metadata(value))
        prompt = PromptTemplate.load(bench.config.prompts_dir, cell.task, labels=prepared_splits.get("labels"))
        hw = detect_hardware(bench.config.pricing, override=bench.hardware_override)
        pricing = bench.config.pricing
        try:
            rate = hourly_rate(pricing, hw["hardware"], pricing.default_scenario)
        except PricingError as exc:
            raise dg.Failure(f"{exc} (this machine: {hw['name']})") from exc
        paths = layout.paths
        base_dir = model_store.base_model_dir(cell.model, log=log_fn(context))
        value = train_lora_cell(
            base_model_dir=base_dir, base_identity=weights_identity(cell.model, base_dir), prepared=prepared_splits,
            condition=cell.condition, render_messages=prompt.render_training_messages, prompt_hash=prompt.hash,
            config=bench.training_config(cell.model_id, cell.task_id), n_seeds=bench.training_seeds,
            adapters_root=paths.adapters, checkpoints_root=paths.checkpoints, max_epochs=bench.profile_config.max_epochs,
            hourly_rate=rate, hardware=hw["hardware"], log=log_fn(context),
        )
        value.update(task=cell.task_id, variant=cell.variant)
        return dg.Output(value, metadata=adapter_materialization_metadata(value),
                         data_version=dg.DataVersion("-".join(str(a["adapter_sha256"])[:8] for a in value["adapters"])))

    return [lora_adapter]


# What the adapter's JSON says, shown on the materialization: scalars as they are, histories and versions as JSON.
_SCALARS = ("backend", "hardware", "gpu_name", "devices", "n_train", "n_val", "n_dropped_too_long", "epochs_run",
            "steps", "stopped_early", "best_val_loss", "best_checkpoint_step", "wall_time_s", "gpu_hours",
            "peak_gpu_mem_mb", "peak_mem_mb", "trained_tokens", "train_tokens_per_s", "hourly_rate_usd",
            "training_cost_usd", "input_hash", "adapter_sha256", "resumed_from", "reused")


def adapter_materialization_metadata(value: dict) -> dict:
    """Seed 0's adapter in full, and every seed's address and whether it was shared with an identical-input cell."""
    first = value["adapters"][0]
    metadata = first["metadata"]
    out = {"status": "ok", "adapter_dir": dg.MetadataValue.path(first["adapter_dir"]),
           "metadata_json": dg.MetadataValue.path(f"{first['adapter_dir']}/{METADATA_FILE}"),
           "adapter_key": first["adapter_key"], "seeds": len(value["adapters"]),
           "gpu_hours_spent": value["gpu_hours_spent"],
           "adapters": dg.MetadataValue.json([{k: a[k] for k in ("seed", "adapter_key", "adapter_sha256", "reused")}
                                              for a in value["adapters"]])}
    out.update({key: metadata.get(key) for key in _SCALARS})
    out["reused"] = first["reused"]
    for key in ("loss_history", "val_loss_history", "library_versions"):
        out[key] = dg.MetadataValue.json(metadata.get(key) or {})
    return out
