"""The `trainer` variant of gpu_train_throughput.py: `train_adapter` itself, the function the lora_adapter asset calls.

A random-weight base of the benchmarked architecture is saved as a model folder (with the embedded model's
tokenizer and chat template: the vocabulary only has to fit inside the architecture's), then `train_adapter`
loads it, picks its backend, packs, trains one epoch with one validation pass and a checkpoint, and publishes the
adapter. The recipe is configs/training/qwen3-8b.yaml with only the shape of a step changed to match the other
variants: rows of `tokens_per_step` tokens (max_seq_length x per_device_batch_size), one row per optimizer step.
Its `load_in_4bit: true` gives QLoRA where bitsandbytes is importable (`trainer`); `trainer_bf16` turns it off.
Documents are chat examples of space-separated vocabulary words, so their token counts follow the workload's
length distribution; the Trainer counts every trained token (`trained_tokens` in the adapter metadata) and a
callback times each optimizer step with the device synchronised at both ends.
"""

from __future__ import annotations

import math
import random
import shutil
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_common as gc_  # noqa: E402

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def save_random_base(config, tokenizer_dir: Path, out_dir: Path, device: str) -> int:
    """Write a random-weight model folder (bf16 on CUDA) with the tokenizer beside it; returns its parameter count."""
    tokenizer_dir = Path(tokenizer_dir)
    missing = [n for n in TOKENIZER_FILES if not (tokenizer_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{tokenizer_dir}: missing {', '.join(missing)} (the embedded model's tokenizer)")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = gc_.build_random_model(config, device, dtype=dtype)
    n_params = gc_.count_params(model)
    shutil.rmtree(out_dir, ignore_errors=True)
    model.save_pretrained(str(out_dir))
    del model
    for name in TOKENIZER_FILES:
        shutil.copy(tokenizer_dir / name, out_dir / name)
    return n_params


def ensure_random_base(config, tokenizer_dir: Path, work: Path, device: str) -> Path:
    """The random-weight model folder under ``work``, written once per run and shared by the variants."""
    base_dir = work / "base"
    if not (base_dir / "config.json").is_file():
        t0 = time.perf_counter()
        save_random_base(config, tokenizer_dir, base_dir, device)
        print(f"[trainer] random base saved to {base_dir} in {time.perf_counter() - t0:.0f} s", flush=True)
    return base_dir


def saved_param_count(model_dir: Path) -> int:
    """Parameters of a saved (unquantised) model folder: N for the 4·N FLOPs per token."""
    from safetensors import safe_open

    total = 0
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as fh:
            total += sum(math.prod(fh.get_slice(name).get_shape()) for name in fh.keys())
    return total


def single_token_words(tokenizer, limit: int = 4000) -> list[str]:
    """Vocabulary entries that are a space plus lowercase letters and encode back to exactly one token."""
    words = []
    for piece in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))):
        if piece and piece.startswith("Ġ") and piece[1:].isascii() and piece[1:].isalpha() and piece[1:].islower():
            word = " " + piece[1:]
            if len(tokenizer(word, add_special_tokens=False)["input_ids"]) == 1:
                words.append(word)
                if len(words) == limit:
                    break
    if len(words) < 10:  # the words only fill documents to a length; the test's tiny tokenizer has a few dozen
        raise ValueError(f"the tokenizer has {len(words)} single-token words; documents need at least 10")
    return words


def make_rows(tokenizer, workload: str, n_docs: int, max_len: int, seed: int, prefix: str) -> list[dict]:
    """Chat examples whose rendered length follows the workload (`full`: near max_len; `mixed`: uniform)."""
    words = single_token_words(tokenizer)
    rng = random.Random(seed)
    probe = tokenizer.apply_chat_template([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                                          tokenize=True)
    overhead = len(probe["input_ids"] if hasattr(probe, "keys") else probe) - 2 + 4  # + 4 tokens of slack
    lo = min(64, max_len // 2)
    rows = []
    for i in range(n_docs):
        target = max_len if workload == "full" else rng.randint(lo, max_len)
        n_words = max(2, target - overhead)
        n_answer = max(1, n_words // 4)
        text = [rng.choice(words) for _ in range(n_words)]
        rows.append({"id": f"{prefix}-{i}", "prompt": "".join(text[n_answer:]).strip(),
                     "answer": "".join(text[:n_answer]).strip()})
    return rows


def render_messages(row: dict) -> list[dict]:
    return [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["answer"]}]


def step_timer(device: str, times: list[float], tokens: list[int] | None = None):
    """A TrainerCallback recording each optimizer step's synchronised wall time (and trained tokens, if asked)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        seen = 0

        def on_step_begin(self, args, state, control, **kw):
            gc_.sync(device)
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            gc_.sync(device)
            times.append(time.perf_counter() - self.t0)
            if tokens is not None:  # the Trainer counts a step's tokens when it fetches its batches, before the step
                tokens.append(state.num_input_tokens_seen - self.seen)
                self.seen = state.num_input_tokens_seen

    return StepTimer()


def run_train_adapter(config, *, workload: str, tokens_per_step: int, max_len: int, warmup: int, steps: int,
                      device: str, tokenizer_dir: Path, work: Path, load_in_4bit: bool = True) -> dict:
    """One `train_adapter` epoch on a random-weight base; the record matches gpu_train_throughput's variants."""
    import yaml

    from baseweight_assets.training import backends

    from baseweight_assets.config.loader import load_bench_config
    from baseweight_assets.config.schema import TrainingConfig
    from baseweight_assets.cost.pricing import hourly_rate
    from baseweight_assets.hardware import detect_hardware
    from baseweight_assets.training.trainer import load_tokenizer, train_adapter

    base_dir = ensure_random_base(config, tokenizer_dir, work, device)
    n_params = saved_param_count(base_dir)
    recipe = yaml.safe_load((REPO / "configs" / "training" / "qwen3-8b.yaml").read_text())
    recipe.update(max_seq_length=max_len, per_device_batch_size=tokens_per_step // max_len, gradient_accumulation=1,
                  evals_per_epoch=1, early_stopping_patience=0, packing=True)
    recipe["load_in_4bit"] = recipe["load_in_4bit"] and load_in_4bit
    training = TrainingConfig.model_validate(recipe)
    tokenizer = load_tokenizer(base_dir)
    if len(tokenizer) > config.vocab_size:
        raise ValueError(f"{tokenizer_dir}: {len(tokenizer)} tokens do not fit the architecture's {config.vocab_size}")
    mean_len = max_len if workload == "full" else (min(64, max_len // 2) + max_len) / 2
    n_docs = int((warmup + steps + 1) * tokens_per_step / mean_len * 1.05) + 1
    train_rows = make_rows(tokenizer, workload, n_docs, max_len, seed=42, prefix="train")
    val_rows = make_rows(tokenizer, workload, 8, max_len, seed=7, prefix="val")
    bench = load_bench_config(REPO / "configs", REPO / "prompts")
    hw = detect_hardware()
    times: list[float] = []
    tokens: list[int] = []
    tag = f"{workload}-{'trainer' if load_in_4bit else 'trainer_bf16'}-compile4bit{backends.COMPILE_4BIT_LAYERS}"
    out_dir, work_dir = work / f"adapter-{tag}", work / f"checkpoints-{tag}"
    for stale in (out_dir, work_dir):  # a fresh run every time: an adapter already published would be reused
        shutil.rmtree(stale, ignore_errors=True)
    t0 = time.perf_counter()
    meta = train_adapter(
        base_model_dir=base_dir, train_rows=train_rows, val_rows=val_rows, render_messages=render_messages,
        config=training, out_dir=out_dir, work_dir=work_dir, max_epochs=1,
        hourly_rate=hourly_rate(bench.pricing, hw["hardware"], bench.pricing.default_scenario), hardware=hw["hardware"],
        input_fingerprint=f"gpu_train_adapter-{tag}", log=lambda m: print(f"[trainer] {m}", flush=True),
        callbacks=[step_timer(device, times, tokens)],
    )
    wall = time.perf_counter() - t0
    measured = slice(warmup, warmup + steps)
    if len(times) <= warmup:
        raise RuntimeError(f"only {len(times)} optimizer steps ran; {warmup} are warm-up")
    timed_tokens = sum(tokens[measured])
    n_timed = len(times[measured])
    return {
        "n_params": n_params, "seconds": sum(times[measured]), "tokens": timed_tokens, "steps": n_timed,
        "batch": (f"1 row x {tokens_per_step} tokens" if meta["backend_detail"]["packed_varlen"]
                  else f"{training.per_device_batch_size} flattened examples"),
        "optimizer": meta["backend_detail"]["optimizer"],
        "peak_gib": (meta["peak_gpu_mem_mb"] or float("nan")) / 1024,
        "packing_efficiency": timed_tokens / (n_timed * tokens_per_step), "warmup_s": sum(times[:warmup]),
        "backend": meta["backend"], "backend_why": meta["backend_why"], "train_adapter_wall_s": wall,
        "compiled_layers": backends.compile_layers(backends.Backend(**meta["backend_detail"]), training),
        "adapter": {k: meta.get(k) for k in ("n_train", "n_dropped_too_long", "steps", "epochs_run", "trained_tokens",
                                             "train_tokens_per_s", "wall_time_s", "gpu_hours", "training_cost_usd",
                                             "peak_gpu_mem_mb", "best_val_loss", "adapter_sha256")},
        "first_loss": meta["loss_history"][0]["loss"] if meta["loss_history"] else None,
        "last_loss": meta["loss_history"][-1]["loss"] if meta["loss_history"] else None,
    }

