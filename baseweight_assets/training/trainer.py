"""Train one LoRA/QLoRA adapter on prepared Examples; resume after a crash; publish atomically with metadata.

Minimums: at least ``MIN_TRAIN_EXAMPLES`` training and ``MIN_VAL_EXAMPLES`` validation examples must remain
after over-long ones are dropped (validation drives early stopping and best-checkpoint selection; the test
split is never passed in). ``early_stopping_patience: 0`` turns early stopping off.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baseweight_assets.config.schema import TrainingConfig
from baseweight_assets.training.backends import Backend, choose_backend, prepare_model
from baseweight_assets.training.errors import TrainingDivergedError, TrainingInputError, TrainingOOMError
from baseweight_assets.storage.atomic import read_json, replace_dir, staging_dir, write_json
from baseweight_assets.training.metadata import (
    METADATA_FILE,
    adapter_sha256,
    device_hours,
    library_versions,
    loss_histories,
    training_cost_usd,
)
from baseweight_assets.training.rendering import render_chats, tokenize_chats
from baseweight_assets.training.resume import (
    STATE_FILE,
    decide,
    input_hash,
    manifest_callback,
    read_state,
    remove_checkpoints,
    write_state,
)

MIN_TRAIN_EXAMPLES = 4
MIN_VAL_EXAMPLES = 1


def train_adapter(*, base_model_dir: Path | str, train_rows: list[dict], val_rows: list[dict],
                  render_messages: Callable[[dict], list[dict]], config: TrainingConfig, out_dir: Path,
                  work_dir: Path, max_epochs: int | None = None, hourly_rate: float, hardware: str,
                  input_fingerprint: str, log: Callable[[str], None] = print,
                  callbacks: list | None = None) -> dict:
    """Fine-tune ``base_model_dir`` with LoRA and publish the adapter folder at ``out_dir`` (only on success).

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (progress, step timing), run after the trainer's own.
    """
    base_model_dir, out_dir, work_dir = Path(base_model_dir), Path(out_dir), Path(work_dir)
    _check_count(train_rows, "train", MIN_TRAIN_EXAMPLES)
    _check_count(val_rows, "val", MIN_VAL_EXAMPLES)
    training_cost_usd(0.0, hourly_rate)  # validates the rate before any work
    backend = choose_backend(config)
    log(f"training backend: {backend.name} ({backend.why})")
    if backend.name == "unsloth":
        import unsloth  # noqa: F401 - must be imported before transformers/trl so its patches apply
    tokenizer = load_tokenizer(base_model_dir)
    template_kwargs = {} if config.enable_thinking is None else {"enable_thinking": config.enable_thinking}
    train_chats, val_chats = render_chats(train_rows, render_messages), render_chats(val_rows, render_messages)
    digest = input_hash(train_rows=train_rows, val_rows=val_rows, train_messages=train_chats, val_messages=val_chats,
                        config=config.model_dump(mode="json"), max_epochs=max_epochs, backend=backend.name,
                        base_model_dir=base_model_dir, input_fingerprint=input_fingerprint)
    published = _published_metadata(out_dir, digest)
    if published is not None:
        log(f"{out_dir}: adapter for input hash {digest[:12]} already published; reusing it")
        return {**published, "reused": True}

    train_ds, train_report = tokenize_chats(_ids(train_rows), train_chats, tokenizer,
                                            max_seq_length=config.max_seq_length, template_kwargs=template_kwargs)
    val_ds, val_report = tokenize_chats(_ids(val_rows), val_chats, tokenizer,
                                        max_seq_length=config.max_seq_length, template_kwargs=template_kwargs)
    _check_kept(train_report, "train", MIN_TRAIN_EXAMPLES, config.max_seq_length)
    _check_kept(val_report, "val", MIN_VAL_EXAMPLES, config.max_seq_length)
    for name, rep in (("train", train_report), ("val", val_report)):
        if rep.dropped_too_long:
            log(f"{name}: dropped {len(rep.dropped_too_long)} example(s) longer than max_seq_length="
                f"{config.max_seq_length} tokens (first: {rep.dropped_too_long[0]})")

    work_dir.mkdir(parents=True, exist_ok=True)
    mode, checkpoint, removed = decide(work_dir, digest, log=log)
    if removed:
        log(f"{work_dir}: removed {len(removed)} stale checkpoint(s) from other inputs: {', '.join(removed)}")
    prior_s = _prior_elapsed(work_dir) if mode == "resume" else 0.0
    if mode == "fresh":
        (work_dir / STATE_FILE).unlink(missing_ok=True)  # nothing from other inputs carries over
    log(f"resuming from {checkpoint}" if checkpoint else "starting fresh")
    epochs_cap = config.epochs_cap(len(train_ds))
    epochs = min(epochs_cap, max_epochs) if max_epochs else epochs_cap
    write_state(work_dir, input_hash=digest, status="in_progress", prior_elapsed_s=prior_s, attempt_elapsed_s=0.0,
                backend=backend.name, out_dir=str(out_dir))

    from baseweight_assets.training.callbacks import (
        NonFiniteLossGuard,
        StateHeartbeat,
        peak_gpu_mb,
        peak_rss_mb,
        reset_gpu_peak,
    )

    started = time.monotonic()
    model = prepare_model(base_model_dir, config, backend, tokenizer)
    guard = NonFiniteLossGuard()
    trainer = build_trainer(model=model, tokenizer=tokenizer, train_rows=train_ds, val_rows=val_ds, config=config,
                            backend=backend, output_dir=work_dir, epochs=epochs,
                            callbacks=[guard, manifest_callback(), StateHeartbeat(work_dir, started, log),
                                       *(callbacks or [])])
    if getattr(trainer, "shared_prefix_refused", None):
        log(f"shared-prefix batches off ({trainer.shared_prefix_refused}): every row runs whole")
    reset_gpu_peak()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except Exception as exc:
        if _is_oom(exc):
            message = oom_advice(config, backend)
            write_state(work_dir, status="failed", error=message)
            raise TrainingOOMError(message) from exc
        write_state(work_dir, status="failed", error=repr(exc)[:500])
        raise
    wall_time_s = time.monotonic() - started
    if guard.bad_step is not None:
        message = (f"training diverged: non-finite {guard.bad_what} at step {guard.bad_step} "
                   f"(learning_rate={config.learning_rate}); lower the learning rate or check the data")
        write_state(work_dir, status="failed", error=message)
        raise TrainingDivergedError(message)

    state = trainer.state
    train_hist, val_hist = loss_histories(state.log_history)
    devices = _device_count(trainer, backend)
    total_s = prior_s + wall_time_s
    hours = device_hours(total_s, devices)
    meta = {
        "backend": backend.name, "backend_why": backend.why, "backend_detail": backend.as_dict(),
        "base_model": str(base_model_dir), "hardware": hardware, "gpu_name": _gpu_name(backend), "devices": devices,
        "n_train": len(train_ds), "n_val": len(val_ds), "n_train_in": len(train_rows), "n_val_in": len(val_rows),
        "train_rendering": train_report.as_dict(), "val_rendering": val_report.as_dict(),
        "n_dropped_too_long": len(train_report.dropped_too_long) + len(val_report.dropped_too_long),
        "n_truncated": 0, "long_example_policy": "drop",
        "epochs_cap": epochs, "epochs_cap_by_train_size": epochs_cap, "epochs_run": state.epoch,
        "steps": state.global_step, "max_steps": state.max_steps,
        "trained_tokens": state.num_input_tokens_seen, "train_tokens_per_s": _tokens_per_s(state, resumed=checkpoint is not None),
        "stopped_early": state.global_step < state.max_steps,
        "loss_history": train_hist, "val_loss_history": val_hist, "best_val_loss": state.best_metric,
        "best_checkpoint_step": _step_of(state.best_model_checkpoint),
        "wall_time_s": round(total_s, 3), "wall_time_this_attempt_s": round(wall_time_s, 3),
        "gpu_hours": hours, "hourly_rate_usd": hourly_rate, "training_cost_usd": training_cost_usd(hours, hourly_rate),
        "peak_gpu_mem_mb": peak_gpu_mb() if backend.device == "cuda" else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "library_versions": library_versions(), "input_hash": digest, "input_fingerprint": input_fingerprint,
        "resumed_from": checkpoint.name if checkpoint else None,
        "lora": config.lora.model_dump(mode="json"), "training_config": config.model_dump(mode="json"),
        "reused": False,
    }
    meta["peak_mem_mb"] = meta["peak_gpu_mem_mb"] if meta["peak_gpu_mem_mb"] is not None else meta["peak_rss_mb"]
    publish_adapter(trainer.model, out_dir, meta)
    write_state(work_dir, status="complete", adapter_sha256=meta["adapter_sha256"])
    remove_checkpoints(work_dir)
    log(f"adapter published at {out_dir} ({meta['steps']} steps, best val loss {meta['best_val_loss']})")
    return meta


def load_tokenizer(base_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(tokenizer, "chat_template", None) is None:
        raise TrainingInputError(f"{base_model_dir}: the tokenizer has no chat template")
    return tokenizer


def build_trainer(*, model: Any, tokenizer: Any, train_rows: list[dict], val_rows: list[dict], config: Any,
                  backend: Backend, output_dir: Path, epochs: int, callbacks: list | None = None) -> Any:
    """The Trainer (TRL SFTTrainer when importable) that ``train_adapter`` runs; importable for benchmarks.

    With ``backend.packed_varlen`` (CUDA, ``config.packing``) the examples are packed into padding-free rows of at
    most ``max_seq_length * per_device_batch_size`` tokens (one row per device step, as many examples as fit, so
    the row holds the tokens a padded batch would have had slots for) and the loss is ``packing.packed_lm_loss``.
    """
    from transformers import EarlyStoppingCallback

    devices = max(1, _visible_devices(backend))
    packed = backend.packed_varlen
    if packed:
        if devices > 1:
            raise ValueError("the packed path calls the decoder directly, which bypasses DistributedDataParallel; "
                             "train on one device or set packing: false")
        from baseweight_assets.training.packing import pack_examples

        tokens_per_row = config.max_seq_length * config.per_device_batch_size
        train_data = pack_examples(train_rows, tokens_per_row, seed=config.seed)
        eval_data = pack_examples(val_rows, tokens_per_row)
        if backend.trainer_class == "trl.SFTTrainer":  # it insists on a datasets.Dataset; Trainer takes lists
            from datasets import Dataset

            train_data, eval_data = Dataset.from_list(train_data), Dataset.from_list(eval_data)
        batch_size = 1
    else:
        train_data, eval_data = train_rows, val_rows
        if backend.trainer_class == "trl.SFTTrainer":
            from datasets import Dataset

            train_data, eval_data = Dataset.from_list(train_data), Dataset.from_list(eval_data)
        batch_size = config.per_device_batch_size
    steps_per_epoch = math.ceil(len(train_data) / (batch_size * config.gradient_accumulation * devices))
    eval_steps = eval_interval(steps_per_epoch, config.evals_per_epoch)
    args = dict(
        output_dir=str(output_dir), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        # Only eval_loss is used: gathering eval logits ([batch, len, vocab] per step) made evaluation crawl on CUDA.
        per_device_eval_batch_size=batch_size, prediction_loss_only=True,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler,
        warmup_steps=warmup_steps(steps_per_epoch * epochs, config.warmup_ratio), weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm, optim=backend.optimizer, seed=config.seed, data_seed=config.seed,
        eval_strategy="steps", eval_steps=eval_steps, save_strategy="steps", save_steps=eval_steps,
        save_total_limit=2, load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
        logging_steps=1, logging_first_step=True, report_to="none", disable_tqdm=True, label_names=["labels"],
        use_cpu=backend.device == "cpu", bf16=backend.dtype == "bfloat16", fp16=backend.dtype == "float16",
        remove_unused_columns=False, dataloader_num_workers=0,
        # Packed and flattened batches hold no padding; padded and shared-prefix ones are counted through their
        # attention mask (a shared prefix counts once per row: the tokens each row was trained on).
        include_num_input_tokens_seen="all" if packed or backend.padding_free else "non_padding",
    )
    args[_checkpointing_arg()] = False  # prepare_model enables it (or Unsloth's) where the config asks
    all_callbacks = list(callbacks or [])
    if config.early_stopping_patience > 0:
        all_callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    common = dict(model=model, train_dataset=train_data, eval_dataset=eval_data,
                  data_collator=make_collator(tokenizer, backend), processing_class=tokenizer, callbacks=all_callbacks)
    if packed:
        common["packed_max_len"] = config.max_seq_length
    wrap = _packed_trainer_class if packed else _shared_prefix_trainer_class if backend.shared_prefix else None
    if backend.trainer_class == "trl.SFTTrainer":
        from trl import SFTConfig, SFTTrainer

        sft = SFTConfig(**args, max_length=config.max_seq_length, packing=False, padding_free=False,
                        dataset_kwargs={"skip_prepare_dataset": True})
        return (wrap(SFTTrainer) if wrap else SFTTrainer)(args=sft, **common)
    from transformers import Trainer, TrainingArguments

    return (wrap(Trainer) if wrap else Trainer)(args=TrainingArguments(**args), **common)


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    """Linear warm-up length: ``warmup_ratio`` of the run's optimizer steps, rounded DOWN.

    A warm-up of n >= 1 steps gives the first step a learning rate of 0; rounded up, a run of one or two steps (the
    smoke profile's lora-4 / lora-8 / lora-full) would publish an untrained adapter (LoRA B still zero) or train on
    half its steps.
    """
    return int(total_steps * warmup_ratio)


# Fewer optimizer steps than this between two evaluations: evaluate once per epoch instead (see eval_interval).
MIN_STEPS_BETWEEN_EVALS = 4


def eval_interval(steps_per_epoch: int, evals_per_epoch: int) -> int:
    """Optimizer steps between validation passes (and checkpoints): the epoch split into ``evals_per_epoch`` parts,
    unless a part would hold fewer than ``MIN_STEPS_BETWEEN_EVALS`` steps; then once per epoch, at its end.

    Validation loss picks the published checkpoint and drives early stopping; between evaluations a few steps apart
    the adapter has barely moved, so on a small training set (the smoke profile: 1-2 steps per epoch) every epoch
    is still evaluated, but not every step.
    """
    part = steps_per_epoch // max(1, evals_per_epoch)
    return max(1, part if part >= MIN_STEPS_BETWEEN_EVALS else steps_per_epoch)


def _packed_trainer_class(base: type) -> type:
    """``base`` (Trainer or SFTTrainer) whose loss is ``packing.packed_lm_loss`` on ``collate_packed_row`` rows."""

    class PackedLossTrainer(base):
        def __init__(self, *args: Any, packed_max_len: int, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.packed_max_len = packed_max_len
            # compute_loss below normalises by the accumulated batch's supervised tokens itself, as HF models do
            # when they accept loss kwargs; this makes the Trainer count them and not divide again.
            self.model_accepts_loss_kwargs = True

        def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            from baseweight_assets.training.packing import IGNORE_INDEX, batch_from_inputs, packed_lm_loss

            causal_lm = _causal_lm(self.accelerator.unwrap_model(model))
            batch = batch_from_inputs(inputs, self.packed_max_len)
            with self.accelerator.autocast():
                loss = packed_lm_loss(causal_lm, batch, max_len=self.packed_max_len)
            if num_items_in_batch is not None:  # token mean over the whole accumulated batch, not per row
                loss = loss * (batch.labels != IGNORE_INDEX).sum() / num_items_in_batch
            return (loss, {"loss": loss}) if return_outputs else loss

    PackedLossTrainer.__name__ = PackedLossTrainer.__qualname__ = f"Packed{base.__name__}"
    return PackedLossTrainer


def _shared_prefix_trainer_class(base: type) -> type:
    """``base`` (Trainer or SFTTrainer) whose loss is ``prefix.supervised_loss_sum`` on ``SharedPrefixCollator``
    batches: the prompt common to a batch runs once, and only supervised positions reach the LM head."""

    class SharedPrefixTrainer(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            from baseweight_assets.training.prefix import supports_shared_prefix

            # The loss below is the token mean over the whole accumulated batch, as HF models compute it when
            # they accept loss kwargs; this makes the Trainer count the supervised tokens and not divide again.
            self.model_accepts_loss_kwargs = True
            self.shared_prefix_refused = supports_shared_prefix(_causal_lm(self.model))
            self._eval_prefix: Any = None  # a PrefixKVCache while an evaluation pass runs

        def evaluation_loop(self, *args: Any, **kwargs: Any) -> Any:
            from baseweight_assets.training.prefix import PrefixKVCache

            self._eval_prefix = PrefixKVCache()  # the weights are fixed for the pass: the prefix runs once
            try:
                return super().evaluation_loop(*args, **kwargs)
            finally:
                self._eval_prefix = None

        def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            import torch

            from baseweight_assets.training.prefix import loss_with_suffix_backward, supervised_loss_sum

            causal_lm = _causal_lm(self.accelerator.unwrap_model(model))
            share = self.shared_prefix_refused is None
            if (model.training and torch.is_grad_enabled() and num_items_in_batch is not None and not return_outputs
                    and self.accelerator.scaler is None and self.args.world_size == 1):
                # The suffixes' backward runs inside (one part's graph alive at a time); the Trainer's backward of
                # the returned loss runs the prefix's. Plain fp32/bf16 on one process: no loss scaler to bypass.
                with self.accelerator.autocast():
                    loss, _n = loss_with_suffix_backward(causal_lm, inputs, num_items_in_batch, share_prefix=share)
                return loss
            with self.accelerator.autocast():
                prefix_kv = None
                if share and self._eval_prefix is not None and inputs["prefix_ids"].shape[1]:
                    with torch.no_grad():
                        prefix_kv = self._eval_prefix.get(causal_lm, inputs["prefix_ids"])
                loss_sum, n_supervised = supervised_loss_sum(causal_lm, inputs, share_prefix=share,
                                                             prefix_kv=prefix_kv)
            denominator = num_items_in_batch if num_items_in_batch is not None else n_supervised.clamp(min=1)
            loss = loss_sum / denominator
            return (loss, {"loss": loss}) if return_outputs else loss

    SharedPrefixTrainer.__name__ = SharedPrefixTrainer.__qualname__ = f"SharedPrefix{base.__name__}"
    return SharedPrefixTrainer


def _causal_lm(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _checkpointing_arg() -> str:
    """transformers 5.2x renamed gradient_checkpointing; older 5.x (the GPU host) only knows the old name."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def make_collator(tokenizer: Any, backend: Backend) -> Any:
    """Packed varlen rows on the packed path; shared-prefix batches on CPU; padding-free (flattened, position_ids)
    batches where the backend supports them; else right-padding."""
    if backend.packed_varlen:
        from baseweight_assets.training.packing import collate_packed_row

        return collate_packed_row
    if backend.shared_prefix:
        from baseweight_assets.training.prefix import SharedPrefixCollator

        return SharedPrefixCollator(tokenizer.pad_token_id)
    if backend.padding_free:
        from transformers import DataCollatorWithFlattening

        return DataCollatorWithFlattening(return_flash_attn_kwargs=backend.device == "cuda")
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100, return_tensors="pt")


def oom_advice(config: Any, backend: Backend) -> str:
    tips = [f"lower per_device_batch_size (now {config.per_device_batch_size}; raise gradient_accumulation "
            f"(now {config.gradient_accumulation}) to keep the effective batch)",
            f"lower max_seq_length (now {config.max_seq_length})"]
    if not backend.load_in_4bit:
        tips.append("enable load_in_4bit (needs bitsandbytes)")
    if not config.gradient_checkpointing and backend.name != "unsloth":
        tips.append("enable gradient_checkpointing")
    return f"out of memory while training with backend {backend.name}: " + "; ".join(tips)


def publish_adapter(model: Any, out_dir: Path, meta: dict) -> None:
    """Write the adapter + metadata to a temp sibling, then swap it in: readers never see a partial folder."""
    tmp = staging_dir(out_dir)
    try:
        model.save_pretrained(str(tmp))
        meta["adapter_sha256"] = adapter_sha256(tmp)
        write_json(tmp / METADATA_FILE, meta, indent=2, sort_keys=True, allow_nan=True)
        replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _published_metadata(out_dir: Path, digest: str) -> dict | None:
    path = out_dir / METADATA_FILE
    if not path.is_file():
        return None
    try:
        meta = read_json(path)
        if meta.get("input_hash") == digest and meta.get("adapter_sha256") == adapter_sha256(out_dir):
            return meta
    except (ValueError, OSError, AttributeError):
        pass
    return None


def _check_count(rows: object, name: str, minimum: int) -> None:
    if not isinstance(rows, list):
        raise TrainingInputError(f"{name}_rows: expected a list of prepared Examples, got {type(rows).__name__}")
    if len(rows) < minimum:
        raise TrainingInputError(f"{name}_rows: {len(rows)} example(s); at least {minimum} are needed to train")


def _check_kept(report: Any, name: str, minimum: int, max_len: int) -> None:
    if report.n_kept < minimum:
        raise TrainingInputError(
            f"{name}: only {report.n_kept} of {report.n_in} example(s) fit max_seq_length={max_len} tokens with a "
            f"non-empty answer ({len(report.dropped_too_long)} too long); at least {minimum} are needed — raise "
            "max_seq_length or shorten the prompt"
        )


def _ids(rows: list[dict]) -> list[str]:
    return [str(r.get("id", f"#{i}")) for i, r in enumerate(rows)]


def _prior_elapsed(work_dir: Path) -> float:
    state = read_state(work_dir) or {}
    return float(state.get("prior_elapsed_s") or 0.0) + float(state.get("attempt_elapsed_s") or 0.0)


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "CUDA out of memory" in str(exc)


def _visible_devices(backend: Backend) -> int:
    """Data-parallel processes (torchrun sets WORLD_SIZE); one process trains on one device."""
    return int(os.environ.get("WORLD_SIZE", "1")) if backend.device == "cuda" else 1


def _device_count(trainer: Any, backend: Backend) -> int:
    if backend.device != "cuda":
        return 1
    return max(1, trainer.args.world_size * max(1, trainer.args.n_gpu))


def _gpu_name(backend: Backend) -> str | None:
    if backend.device != "cuda":
        return None
    import torch

    return torch.cuda.get_device_name(0)


def _tokens_per_s(state: Any, resumed: bool) -> float | None:
    """Tokens per second of this attempt's training loop (evaluations included, model load not), as the Trainer
    logs it; older transformers log only the running total, which is this attempt's only when nothing resumed."""
    for entry in reversed(state.log_history):
        if "train_tokens_per_second" in entry:
            return entry["train_tokens_per_second"]
    runtime = next((e["train_runtime"] for e in reversed(state.log_history) if "train_runtime" in e), None)
    if resumed or not runtime or not state.num_input_tokens_seen:
        return None
    return round(state.num_input_tokens_seen / runtime, 1)


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    tail = Path(checkpoint).name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None
