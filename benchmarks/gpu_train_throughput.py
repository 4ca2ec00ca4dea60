"""LoRA training throughput on Qwen3-8B's architecture (random weights): plain HF Trainer + PEFT vs packed.

Both variants: bf16 base, LoRA on all linear layers with the r/alpha/dropout/rsLoRA of
configs/training/qwen3-8b.yaml (r=16), max sequence length 1024, the same documents, the same card, one run.
- baseline: transformers.Trainer + PEFT, SDPA attention, batches padded to their longest document
  (what a plain Hugging Face recipe does), default optimizer, no gradient checkpointing if memory allows;
- packed: padding-free rows of `--tokens-per-step` tokens (varlen flash attention, position_ids restarting
  per document), chunked cross-entropy (no full logits), regional torch.compile of the decoder layers,
  fused AdamW, bf16 autocast as in the baseline; this script's own loop over training/packing.py;
- trainer: `train_adapter`, the lora_adapter asset's trainer, on the same architecture saved as a model folder
  (gpu_train_adapter.py): its backend choice, packing, Trainer loop, evaluation, checkpoint and publishing.
  With bitsandbytes importable the recipe's load_in_4bit makes this QLoRA; `trainer_bf16` keeps the bf16 base;
- baseline_4bit: the baseline on a bitsandbytes NF4 base (plain QLoRA: prepare_model_for_kbit_training, padded
  batches), loaded from the trainer variant's model folder.
Workloads: `full` (every document 1024 tokens: no padding anywhere, kernels only) and `mixed` (lengths
uniform in [64, 1024]: what padding costs). Trained tokens = real (non-padding) tokens.
MFU counts 4*N FLOPs per trained token (N = base parameters; frozen base: forward 2N + input-gradient 2N).

GPU:  python3 benchmarks/gpu_train_throughput.py --out $OUT --variants baseline,trainer,packed
CPU smoke (tiny model): OMP_NUM_THREADS=1 python benchmarks/gpu_train_throughput.py --tiny --device cpu
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path
from unittest.mock import patch

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))  # the packed path is the trainer's own module (imports only torch)
import gpu_common as gc_  # noqa: E402
from gpu_train_adapter import ensure_random_base, run_train_adapter, saved_param_count, step_timer  # noqa: E402

from baseweight_assets.training import backends  # noqa: E402
from baseweight_assets.training import packing as pt  # noqa: E402
from baseweight_assets.training.errors import TrainingOOMError  # noqa: E402


def lora_settings() -> dict:
    import yaml

    path = REPO / "configs" / "training" / "qwen3-8b.yaml"
    lora = yaml.safe_load(path.read_text())["lora"]
    return {"r": int(lora["r"]), "alpha": int(lora["alpha"]), "dropout": float(lora["dropout"]),
            "use_rslora": bool(lora.get("use_rslora", False)), "target_modules": lora["target_modules"]}


def make_docs(workload: str, n_docs: int, max_len: int, vocab: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    lo = 64 if max_len >= 256 else 4
    lengths = [max_len if workload == "full" else rng.randint(lo, max_len) for _ in range(n_docs)]
    return [[rng.randrange(10, vocab) for _ in range(n)] for n in lengths]


def add_lora(model, lora: dict):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                     target_modules=lora["target_modules"], use_rslora=lora["use_rslora"], task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")


# ---------------------------------------------------------------- baseline: plain Trainer + PEFT

def load_4bit_base(base_dir: Path):
    """The saved random base as plain QLoRA loads it: NF4 + double quantisation, bf16 compute, k-bit prep."""
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), quantization_config=quant, dtype=torch.bfloat16,
                                                 attn_implementation="sdpa", device_map={"": 0})
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def run_baseline(config, docs, lora, batch_size, warmup, steps, device, base_4bit: Path | None = None) -> dict:
    from transformers import Trainer, TrainingArguments

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if base_4bit is not None:
        model, n_params = load_4bit_base(base_4bit), saved_param_count(base_4bit)
    else:
        model = gc_.build_random_model(config, device, dtype=dtype, attn_implementation="sdpa")
        n_params = gc_.count_params(model)
    model = add_lora(model, lora)
    batch_tokens: list[int] = []
    batch_slots: list[int] = []

    def collate(rows):  # pad to the longest row of the batch, as DataCollatorForSeq2Seq does
        longest = max(len(r["input_ids"]) for r in rows)
        ids = torch.zeros(len(rows), longest, dtype=torch.long)
        mask = torch.zeros(len(rows), longest, dtype=torch.long)
        labels = torch.full((len(rows), longest), pt.IGNORE_INDEX, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            mask[i, :n] = 1
            labels[i, :n] = ids[i, :n]
        batch_tokens.append(int(mask.sum()))
        batch_slots.append(mask.numel())
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    step_times: list[float] = []

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=batch_size, gradient_accumulation_steps=1,
            max_steps=warmup + steps, learning_rate=2e-4, lr_scheduler_type="constant", bf16=device != "cpu",
            logging_steps=10**6, save_strategy="no", report_to=[], dataloader_num_workers=0,
            remove_unused_columns=False, disable_tqdm=True, use_cpu=device == "cpu", seed=0,
        )
        dataset = [{"input_ids": d} for d in docs]
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate,
                          callbacks=[step_timer(device, step_times)])
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
        optim_name = str(trainer.args.optim)
    measured = slice(warmup, warmup + steps)
    seconds = sum(step_times[measured])
    tokens = sum(batch_tokens[measured])
    slots = sum(batch_slots[measured])
    del trainer, model
    return {"n_params": n_params, "seconds": seconds, "tokens": tokens, "steps": len(step_times[measured]),
            "batch": f"{batch_size} padded rows", "optimizer": optim_name, "peak_gib": peak_gib(),
            "packing_efficiency": tokens / slots}


# ---------------------------------------------------------------- packed, padding-free path

def pack_rows(docs, tokens_per_step, max_len):
    """Rows of exactly `tokens_per_step` tokens: whole documents, tail filled by a label-free filler doc."""
    rows = []
    for group in pt.greedy_pack(docs, tokens_per_step):
        used = sum(len(d) for d in group)
        filler = tokens_per_step - used
        rows.append((group, filler))
    return rows


def make_batch(group, filler, device):
    docs = list(group)
    if filler >= 2:
        docs.append([0] * filler)
    batch = pt.pack_documents(docs, device=device)
    real = sum(len(d) for d in group)
    if filler >= 2:
        batch.labels[real:] = pt.IGNORE_INDEX
    elif filler == 1:  # a one-token tail cannot be its own document: append it to the last one, unlabelled
        batch = pt.pack_documents(list(group[:-1]) + [group[-1] + [0]], device=device)
        batch.labels[real - 1:] = pt.IGNORE_INDEX
    return batch, real


def build_packed_model(config, lora, device, compile_layers):
    name = pt.register_packed_attention()
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = gc_.build_random_model(config, device, dtype=dtype, attn_implementation=name)
    n_params = gc_.count_params(model)
    model = add_lora(model, lora)
    causal_lm = model.base_model.model
    pt.prepare_packed_model(causal_lm, compile_layers=compile_layers)
    return model, causal_lm, n_params


def packed_loss(causal_lm, batch, max_len, device):
    with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16,
                        enabled=device != "cpu"):
        return pt.packed_lm_loss(causal_lm, batch, max_len=max_len)


def run_packed(config, docs, lora, tokens_per_step, max_len, warmup, steps, device, compile_layers) -> dict:
    model, causal_lm, n_params = build_packed_model(config, lora, device, compile_layers)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=2e-4, fused=device.startswith("cuda"))
    rows = pack_rows(docs, tokens_per_step, max_len)
    if len(rows) < warmup + steps:
        raise ValueError(f"only {len(rows)} packed rows for {warmup + steps} steps: add documents")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    seconds, tokens, losses = 0.0, 0, []
    compile_s = 0.0
    for i, (group, filler) in enumerate(rows[: warmup + steps]):
        batch, real = make_batch(group, filler, device)
        with gc_.Stopwatch(device) as sw:
            loss = packed_loss(causal_lm, batch, max_len, device)
            loss.backward()
            optim.step()
            optim.zero_grad(set_to_none=True)
        losses.append(float(loss))
        if i < warmup:
            compile_s += sw.seconds
        else:
            seconds += sw.seconds
            tokens += real
    if not all(torch.isfinite(torch.tensor(losses))):
        raise FloatingPointError(f"packed run produced a non-finite loss: {losses}")
    total_slots = steps * tokens_per_step
    del model, causal_lm, optim
    return {"n_params": n_params, "seconds": seconds, "tokens": tokens, "steps": steps,
            "batch": f"1 row x {tokens_per_step} tokens", "optimizer": "torch AdamW fused",
            "peak_gib": peak_gib(), "packing_efficiency": tokens / total_slots, "warmup_s": compile_s,
            "first_loss": losses[0], "last_loss": losses[-1]}


# ---------------------------------------------------------------- correctness: packed == per-document sdpa

def check_packed_matches_reference(config, lora, device, max_len) -> dict:
    """Loss and LoRA gradients of one packed row against each document run alone through SDPA."""
    torch.manual_seed(0)
    model, causal_lm, _ = build_packed_model(config, lora, device, compile_layers=False)
    # Give every LoRA B a non-zero value so that the check covers the adapter path too.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    model.eval()  # dropout off: both paths must see the same function
    lengths = [min(max_len, n) for n in (300, 17, 129, 64)]
    rng = random.Random(1)
    docs = [[rng.randrange(10, config.vocab_size) for _ in range(n)] for n in lengths]
    batch = pt.pack_documents(docs, device=device)
    params = [p for p in model.parameters() if p.requires_grad]

    loss = packed_loss(causal_lm, batch, max_len, device)
    loss.backward()
    packed_grads = torch.cat([p.grad.flatten().float() for p in params])
    model.zero_grad(set_to_none=True)

    causal_lm.set_attn_implementation("sdpa")
    count = 0
    ref = torch.zeros((), device=device)
    for doc in docs:
        ids = torch.tensor([doc], device=device)
        with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16,
                            enabled=device != "cpu"):
            logits = causal_lm(input_ids=ids, use_cache=False).logits[0, :-1].float()
        ref = ref + F.cross_entropy(logits, ids[0, 1:], reduction="sum")
        count += len(doc) - 1
    ref = ref / count
    ref.backward()
    ref_grads = torch.cat([p.grad.flatten().float() for p in params])
    model.zero_grad(set_to_none=True)

    # Noise floor: the baseline's padded-batch SDPA path against the same reference, same precision.
    longest = max(len(d) for d in docs)
    ids = torch.zeros(len(docs), longest, dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for i, doc in enumerate(docs):
        ids[i, :len(doc)] = torch.tensor(doc, device=device)
        mask[i, :len(doc)] = 1
    labels = ids.masked_fill(mask == 0, pt.IGNORE_INDEX)
    with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16,
                        enabled=device != "cpu"):
        padded_loss = causal_lm(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
    padded_loss.backward()
    padded_grads = torch.cat([p.grad.flatten().float() for p in params])
    padded_rel = float((padded_grads - ref_grads).norm() / ref_grads.norm().clamp(min=1e-30))
    causal_lm.set_attn_implementation(pt.ATTN_NAME)
    grad_rel = float((packed_grads - ref_grads).norm() / ref_grads.norm().clamp(min=1e-30))
    loss_rel = abs(float(loss.detach()) - float(ref.detach())) / abs(float(ref.detach()))
    del model, causal_lm
    result = {"loss_packed": float(loss.detach()), "loss_reference": float(ref.detach()), "loss_rel_err": loss_rel,
              "grad_rel_err": grad_rel, "padded_sdpa_grad_rel_err": padded_rel,
              "padded_sdpa_loss": float(padded_loss.detach())}
    # bf16 on the GPU: the gradient may differ from the reference by about what the plain padded path does.
    tol = 2e-2 if device != "cpu" else 1e-4
    if not (loss_rel < tol and grad_rel < max(5 * tol, 2 * padded_rel)):
        raise AssertionError(f"packed path disagrees with the per-document SDPA reference: {result}")
    return result


# ---------------------------------------------------------------- driver

def with_fallback(fn, candidates, label):
    """Try each size in turn; out-of-memory moves to the next (smaller) one."""
    last = None
    for size in candidates:
        try:
            return fn(size)
        except (torch.OutOfMemoryError, TrainingOOMError) as exc:
            last = f"{exc}"[:300]  # keep text only: the exception's frames would pin the GPU memory
        print(f"[{label}] out of memory at {size}; trying a smaller size", flush=True)
        free_memory()  # outside the except block, once the failed frames are gone
    raise RuntimeError(f"[{label}] out of memory at every size {candidates}: {last}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer model of the same family (CPU smoke)")
    ap.add_argument("--workloads", default="full,mixed")
    ap.add_argument("--variants", default="baseline,trainer,packed",
                    help="baseline, baseline_4bit, trainer, trainer_bf16, trainer_compile4bit, trainer_eager4bit, "
                         "packed, packed_eager")
    ap.add_argument("--tokenizer-dir", default=str(REPO / ".cache" / "models" / "smollm2-135m"),
                    help="tokenizer + chat template for the trainer variant's model folder")
    ap.add_argument("--work", default=None, help="where the trainer variant writes its model folder (default: a temp dir)")
    ap.add_argument("--max-len", type=int, default=1024)
    ap.add_argument("--tokens-per-step", default="8192,4096", help="packed row sizes to try, largest first")
    ap.add_argument("--baseline-batch", default="8,4,2", help="baseline batch sizes to try, largest first")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", default="benchmarks/out")
    ap.add_argument("--check-only", action="store_true", help="only the packed-vs-reference correctness check")
    ap.add_argument("--no-check", action="store_true", help="skip the correctness check (timings only)")
    a = ap.parse_args(argv)

    device = a.device
    # The trainer variant feeds the embedded model's tokenizer (49,152 tokens) to the architecture.
    config = gc_.tiny_config("qwen3", vocab_size=49152) if a.tiny else gc_.qwen3_8b_config()
    work = Path(a.work or tempfile.mkdtemp(prefix="bw_train_adapter_"))
    lora = lora_settings()
    out = Path(a.out)
    result = {"env": gc_.environment(), "lora": lora, "max_len": a.max_len, "argv": sys.argv[1:], "runs": []}
    result["matmul_tflops_8192"] = gc_.measure_matmul_tflops(device)
    print(f"env: {result['env']}\nmeasured bf16 8192^3 matmul: {result['matmul_tflops_8192']:.0f} TFLOP/s",
          flush=True)

    if a.no_check:
        result["correctness"] = {"skipped": "--no-check"}
    else:
        try:
            result["correctness"] = check_packed_matches_reference(config, lora, device, a.max_len)
        except Exception as exc:  # reported in the output and the JSON; the timings still run
            traceback.print_exc()
            result["correctness"] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    print(f"correctness: {result['correctness']}", flush=True)
    free_memory()
    if a.check_only:
        gc_.write_json_atomic(out / "gpu_train_check.json", result)
        return 0 if "error" not in result["correctness"] else 1

    sizes_packed = [int(x) for x in a.tokens_per_step.split(",")]
    sizes_base = [int(x) for x in a.baseline_batch.split(",")]
    for workload in a.workloads.split(","):
        n_docs = (a.warmup + a.steps + 2) * max(sizes_packed) // (a.max_len if workload == "full" else 400)
        docs = make_docs(workload, max(n_docs, 4 * max(sizes_base) * (a.warmup + a.steps)), a.max_len,
                         config.vocab_size, seed=42)
        for variant in a.variants.split(","):
            t0 = time.perf_counter()
            try:
                if variant == "baseline":
                    run = with_fallback(lambda b: run_baseline(config, docs, lora, b, a.warmup, a.steps, device),
                                        sizes_base, variant)
                elif variant == "baseline_4bit":
                    base_dir = ensure_random_base(config, Path(a.tokenizer_dir), work, device)
                    run = with_fallback(lambda b: run_baseline(config, docs, lora, b, a.warmup, a.steps, device,
                                                               base_4bit=base_dir), sizes_base, variant)
                elif variant in ("trainer", "trainer_bf16", "trainer_compile4bit", "trainer_eager4bit"):
                    # The two 4-bit experiments set the trainer's switch for their run; the others keep its default.
                    compile_4bit = {"trainer_compile4bit": True, "trainer_eager4bit": False}.get(
                        variant, backends.COMPILE_4BIT_LAYERS)
                    with patch.object(backends, "COMPILE_4BIT_LAYERS", compile_4bit):
                        run = with_fallback(lambda t: run_train_adapter(
                            config, workload=workload, tokens_per_step=t, max_len=a.max_len, warmup=a.warmup,
                            steps=a.steps, device=device, tokenizer_dir=Path(a.tokenizer_dir), work=work,
                            load_in_4bit=variant != "trainer_bf16"), sizes_packed, variant)
                else:
                    compile_layers = variant == "packed"
                    run = with_fallback(
                        lambda t: run_packed(config, docs, lora, t, a.max_len, a.warmup, a.steps, device,
                                             compile_layers), sizes_packed, variant)
            except Exception as exc:  # record and go on: one broken variant must not lose the others
                traceback.print_exc()
                run = {"error": f"{type(exc).__name__}: {exc}"}
            run.update(workload=workload, variant=variant, wall_s=time.perf_counter() - t0)
            if "tokens" in run:
                run["tokens_per_s"] = run["tokens"] / run["seconds"]
                flops = 4 * run["n_params"] * run["tokens_per_s"]
                run["model_tflops"] = flops / 1e12
                run["mfu_vs_measured"] = flops / (result["matmul_tflops_8192"] * 1e12)
                run["mfu_vs_datasheet"] = flops / (gc_.DATASHEET_BF16_DENSE_TFLOPS * 1e12)
            result["runs"].append(run)
            print(f"run: {run}", flush=True)
            free_memory()
            torch._dynamo.reset()
            gc_.write_json_atomic(out / "gpu_train_throughput.json", result)

    for workload in a.workloads.split(","):
        for baseline in ("baseline", "baseline_4bit"):  # each variant against both plain recipes, where measured
            # A baseline run more than once counts at its fastest (the conservative speed-up).
            base = max((r for r in result["runs"] if r["workload"] == workload and r["variant"] == baseline
                        and "tokens_per_s" in r), key=lambda r: r["tokens_per_s"], default=None)
            for r in result["runs"]:
                if r["workload"] == workload and base and "tokens_per_s" in r:
                    r[f"speedup_vs_{baseline}"] = r["tokens_per_s"] / base["tokens_per_s"]
    gc_.write_json_atomic(out / "gpu_train_throughput.json", result)
    print(f"\n{result['env']['device']}  N={result['runs'][0].get('n_params', 0) / 1e9:.3f}B  "
          f"measured peak {result['matmul_tflops_8192']:.0f} TFLOP/s")
    gc_.print_table(result["runs"], ["workload", "variant", "backend", "batch", "tokens_per_s", "speedup_vs_baseline",
                                     "speedup_vs_baseline_4bit", "model_tflops",
                                     "mfu_vs_measured", "mfu_vs_datasheet", "peak_gib", "error"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
