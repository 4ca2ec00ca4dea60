from __future__ import annotations

import json

import pytest
from tiny_model import fruit_rows, render_messages

from baseweight_assets.training import trainer as trainer_mod
from baseweight_assets.training.errors import TrainingDivergedError, TrainingInputError, TrainingOOMError
from baseweight_assets.training.rendering import render_chats, tokenize_chats
from baseweight_assets.training.metadata import METADATA_FILE, adapter_sha256
from baseweight_assets.training.trainer import MIN_TRAIN_EXAMPLES, train_adapter

REQUIRED = ("backend", "backend_why", "base_model", "n_train", "n_val", "n_dropped_too_long", "n_truncated",
            "epochs_cap", "epochs_run", "steps", "loss_history", "val_loss_history", "best_val_loss", "stopped_early",
            "wall_time_s", "hardware", "gpu_name", "gpu_hours", "peak_gpu_mem_mb", "peak_mem_mb", "training_cost_usd",
            "library_versions", "input_hash", "adapter_sha256", "resumed_from", "lora", "training_config")


def _train(model_dir, config, tmp_path, *, train=None, val=None, **kw):
    args = dict(base_model_dir=model_dir, train_rows=fruit_rows(24) if train is None else train,
                val_rows=fruit_rows(4, "val") if val is None else val, render_messages=render_messages, config=config,
                out_dir=tmp_path / "adapter", work_dir=tmp_path / "work", max_epochs=2, hourly_rate=3.85,
                hardware="cpu-test", input_fingerprint="fp-1", log=lambda msg: None)
    args.update(kw)
    return train_adapter(**args)


def test_trains_publishes_adapter_and_sane_metadata(tiny_model_dir, tiny_config, tmp_path):
    train = fruit_rows(24)
    train[3]["fields"]["text"] = "What color is the lime? " * 30  # longer than max_seq_length=64
    from transformers import TrainerCallback

    ends = []

    class StepEnds(TrainerCallback):  # extra callbacks reach the Trainer (the GPU benchmark times steps this way)
        def on_step_end(self, args, state, control, **kw):
            ends.append((state.global_step, state.num_input_tokens_seen))

    meta = _train(tiny_model_dir, tiny_config, tmp_path, train=train, callbacks=[StepEnds()])
    assert all(key in meta for key in REQUIRED), sorted(set(REQUIRED) - set(meta))
    assert [step for step, _ in ends] == list(range(1, 13))
    tok = trainer_mod.load_tokenizer(tiny_model_dir)
    kept, _ = tokenize_chats([r["id"] for r in train], render_chats(train, render_messages), tok, max_seq_length=64)
    # Two epochs of every kept example's real tokens: the padding of right-padded batches is not counted.
    assert meta["trained_tokens"] == ends[-1][1] == 2 * sum(len(ex["input_ids"]) for ex in kept)
    assert meta["train_tokens_per_s"] > 0
    assert meta["backend"] == "peft_cpu" and meta["gpu_name"] is None and meta["peak_gpu_mem_mb"] is None
    assert (meta["n_train"], meta["n_val"], meta["n_dropped_too_long"]) == (23, 4, 1)
    assert meta["train_rendering"]["dropped_ids"] == ["ex-3"]
    assert meta["epochs_cap"] == 2 and meta["epochs_run"] == pytest.approx(2.0)
    assert meta["steps"] == 12 and not meta["stopped_early"] and meta["resumed_from"] is None
    # evals_per_epoch=2 would put 3 steps between evaluations (< MIN_STEPS_BETWEEN_EVALS): once per epoch instead
    assert len(meta["loss_history"]) == 12 and [v["step"] for v in meta["val_loss_history"]] == [6, 12]
    best = min(meta["val_loss_history"], key=lambda v: v["loss"])
    assert meta["best_val_loss"] == best["loss"] and meta["best_checkpoint_step"] == best["step"]
    assert meta["val_loss_history"][-1]["loss"] < meta["val_loss_history"][0]["loss"]  # it learns
    assert meta["gpu_hours"] == pytest.approx(meta["wall_time_s"] / 3600, rel=1e-3)
    assert meta["training_cost_usd"] == pytest.approx(meta["gpu_hours"] * 3.85)
    assert meta["peak_mem_mb"] > 50 and meta["library_versions"]["torch"]
    out = tmp_path / "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors", METADATA_FILE} <= {p.name for p in out.iterdir()}
    assert json.loads((out / METADATA_FILE).read_text())["adapter_sha256"] == meta["adapter_sha256"] == adapter_sha256(out)
    assert not list((tmp_path / "work").glob("checkpoint-*"))  # cleaned up after success
    assert json.loads((tmp_path / "work" / "train_state.json").read_text())["status"] == "complete"

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out)  # loads

    again = _train(tiny_model_dir, tiny_config, tmp_path, train=train)  # same inputs: no retraining
    assert again["reused"] and again["adapter_sha256"] == meta["adapter_sha256"]


def _contradicting_val() -> list[dict]:
    rows = fruit_rows(4, "val")
    for row, wrong in zip(rows, ("blue", "black", "white", "brown")):
        row["target"] = row["target"].rsplit(" ", 1)[0] + f" {wrong}."
    return rows


def test_early_stopping_keeps_the_best_validation_checkpoint(tiny_model_dir, tiny_config, tmp_path):
    # validation answers contradict training (every colour swapped): once the model has learnt the answer
    # format, fitting the training colours makes validation loss climb, so early stopping must fire
    val = _contradicting_val()
    cfg = tiny_config.model_copy(update={"learning_rate": 0.05, "early_stopping_patience": 2, "evals_per_epoch": 2})
    meta = _train(tiny_model_dir, cfg, tmp_path, val=val, max_epochs=10)
    vals = [v["loss"] for v in meta["val_loss_history"]]
    assert meta["stopped_early"] and meta["steps"] < meta["max_steps"]
    best = min(meta["val_loss_history"], key=lambda v: v["loss"])
    assert meta["best_checkpoint_step"] == best["step"] < meta["steps"]
    assert vals[-1] > best["loss"]  # the last eval was worse; the published adapter is the best one

    # re-evaluating the published adapter on the validation rows gives the best loss, not the last one
    from datasets import Dataset
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows, _ = tokenize_chats([r["id"] for r in val], render_chats(val, render_messages), tok, max_seq_length=64)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path / "adapter")
    evaluator = Trainer(model=model, args=TrainingArguments(str(tmp_path / "eval"), per_device_eval_batch_size=4,
                                                            report_to="none", use_cpu=True, label_names=["labels"]),
                        data_collator=DataCollatorForSeq2Seq(tok, padding=True), eval_dataset=Dataset.from_list(rows))
    assert evaluator.evaluate()["eval_loss"] == pytest.approx(best["loss"], rel=1e-4)


@pytest.mark.parametrize("n_train, n_val, fragment", [
    (0, 4, "train_rows: 0 example"), (MIN_TRAIN_EXAMPLES - 1, 4, f"at least {MIN_TRAIN_EXAMPLES}"),
    (8, 0, "val_rows: 0 example"),
])
def test_empty_or_tiny_sets_fail_clearly(tiny_model_dir, tiny_config, tmp_path, n_train, n_val, fragment):
    with pytest.raises(TrainingInputError, match=fragment):
        _train(tiny_model_dir, tiny_config, tmp_path, train=fruit_rows(n_train), val=fruit_rows(n_val, "val"))
    assert not (tmp_path / "adapter").exists()


def test_all_examples_too_long_fails_naming_max_seq_length(tiny_model_dir, tiny_config, tmp_path):
    cfg = tiny_config.model_copy(update={"max_seq_length": 16})
    with pytest.raises(TrainingInputError, match="max_seq_length=16"):
        _train(tiny_model_dir, cfg, tmp_path)
    assert not (tmp_path / "adapter").exists()


def test_nan_loss_stops_with_step_and_publishes_nothing(tiny_model_dir, tiny_config, tmp_path):
    cfg = tiny_config.model_copy(update={"learning_rate": 1e30, "max_grad_norm": 0.0})
    with pytest.raises(TrainingDivergedError, match=r"non-finite (loss|grad_norm)=\w+ at step \d+") as info:
        _train(tiny_model_dir, cfg, tmp_path)
    assert "learning_rate=1e+30" in str(info.value)
    assert not (tmp_path / "adapter").exists()
    assert not list(tmp_path.glob(".adapter.tmp-*"))
    state = json.loads((tmp_path / "work" / "train_state.json").read_text())
    assert state["status"] == "failed" and "step" in state["error"]


def test_out_of_memory_says_what_to_lower(tiny_model_dir, tiny_config, tmp_path, monkeypatch):
    import torch

    class ExplodingTrainer:
        def train(self, resume_from_checkpoint=None):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer_mod, "build_trainer", lambda **kw: ExplodingTrainer())
    with pytest.raises(TrainingOOMError) as info:
        _train(tiny_model_dir, tiny_config, tmp_path)
    message = str(info.value)
    for fragment in ("per_device_batch_size (now 4", "max_seq_length (now 64)", "load_in_4bit", "gradient_checkpointing"):
        assert fragment in message
    assert not (tmp_path / "adapter").exists()


def test_failed_run_keeps_the_previous_adapter_intact(tiny_model_dir, tiny_config, tmp_path, monkeypatch):
    out = tmp_path / "adapter"
    out.mkdir()
    (out / "adapter_model.safetensors").write_bytes(b"previous")

    class Boom:
        def train(self, resume_from_checkpoint=None):
            raise RuntimeError("disk full")

    monkeypatch.setattr(trainer_mod, "build_trainer", lambda **kw: Boom())
    with pytest.raises(RuntimeError, match="disk full"):
        _train(tiny_model_dir, tiny_config, tmp_path)
    assert (out / "adapter_model.safetensors").read_bytes() == b"previous"


def test_bad_hourly_rate_rejected_before_training(tiny_model_dir, tiny_config, tmp_path):
    with pytest.raises(ValueError, match="hourly_rate"):
        _train(tiny_model_dir, tiny_config, tmp_path, hourly_rate=float("nan"))


@pytest.mark.parametrize("steps_per_epoch, evals_per_epoch, interval", [
    (1, 2, 1), (2, 2, 2),      # smoke: 1-2 optimizer steps per epoch -> one evaluation, at the epoch's end
    (7, 2, 7), (8, 2, 4),      # a part of 3 steps is too short; 4 steps is enough
    (63, 2, 31), (100, 3, 33), # full-profile sizes keep evals_per_epoch
    (12, 1, 12),
])
def test_eval_interval_splits_the_epoch_only_into_parts_of_enough_steps(steps_per_epoch, evals_per_epoch, interval):
    assert trainer_mod.MIN_STEPS_BETWEEN_EVALS == 4
    assert trainer_mod.eval_interval(steps_per_epoch, evals_per_epoch) == interval


def test_a_one_step_run_trains_despite_a_warmup_ratio(tiny_model_dir, tiny_config, tmp_path):
    """A warm-up rounded up to one step would give the only step a learning rate of 0: LoRA B would stay zero and
    the published adapter would be the base model (the smoke profile's lora-4 and lora-8 cells train one step)."""
    from safetensors.torch import load_file

    assert [trainer_mod.warmup_steps(n, 0.05) for n in (1, 2, 19, 20, 100)] == [0, 0, 0, 1, 5]
    cfg = tiny_config.model_copy(update={"per_device_batch_size": 8, "warmup_ratio": 0.05})
    meta = _train(tiny_model_dir, cfg, tmp_path, train=fruit_rows(8), max_epochs=1)
    assert meta["steps"] == 1
    weights = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    assert max(float(v.abs().max()) for k, v in weights.items() if "lora_B" in k) > 0
