"""SmolLM2-135M-Instruct (real weights, from the embedded GGUF) on real BANKING77: zero-shot, 5-shot, LoRA-500.

The same code the assets call: `models.embedded.convert_gguf` builds the model folder,
`data.prepare.prepare_task` the splits, `training.trainer.train_adapter` the adapter (on CUDA it picks its
own backend), `prompting.PromptTemplate` the messages and `scoring.score.score_predictions` the scores with
their bootstrap CIs. Predictions are greedy, batched `generate` on the GPU (fp32, left padding).

Two steps, because the GPU machine cannot see ../shared/data and cannot download anything:
  here (CPU):  python benchmarks/gpu_finetune_smollm2.py prepare   # writes .cache/gpu_carry*/ (gitignored)
  GPU machine: python3 benchmarks/gpu_finetune_smollm2.py run --gguf-dir /tmp/bw_gguf --out $OUT
`prepare` writes the prepared BANKING77 splits (JSON), the pure-Python wheels the GPU image lacks (gguf,
pydantic and its two helpers, pydantic-core) and the 98 MB GGUF split in two pieces, one per call.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

TASK, MODEL = "banking77", "smollm2-135m"
CARRY = REPO / ".cache" / "gpu_carry"          # splits JSON + wheels + GGUF piece 2 (second call)
CARRY_PART1 = REPO / ".cache" / "gpu_carry_part1"  # GGUF piece 1 (first call)
WHEELS = ["gguf==0.19.0", "pydantic==2.14.4", "pydantic-core==2.50.5", "annotated-types==0.8.0",
          "typing-inspection==0.4.5"]


def bench_config():
    from baseweight_assets.config.loader import load_bench_config

    return load_bench_config(REPO / "configs", REPO / "prompts")


def prepare(data_root: Path, gguf: Path) -> None:
    from baseweight_assets.data.prepare import prepare_task
    from baseweight_assets.data.raw import load_raw
    from baseweight_assets.prompting import PromptTemplate

    bench = bench_config()
    task = bench.tasks[TASK]
    raw = load_raw(task, data_root)
    prompt = PromptTemplate.load(REPO / "prompts", task, labels=raw.get("labels"))
    prepared = prepare_task(task, raw, prompt, n_eval_seeds=bench.run.n_eval_seeds)
    CARRY.mkdir(parents=True, exist_ok=True)
    CARRY_PART1.mkdir(parents=True, exist_ok=True)
    (CARRY / f"{TASK}_prepared.json").write_text(json.dumps(prepared))
    print(f"prepared {TASK}: " + ", ".join(f"{k}={len(v)}" for k, v in prepared["splits"].items())
          + f", lora_500={len(prepared['lora_500_ids'])}, test_seeds={[len(s) for s in prepared['test_seeds']]}")

    wheel_dir = CARRY / "whl"
    wheel_dir.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64", "--platform",
                    "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "-d", str(wheel_dir), *WHEELS],
                   check=True)
    data = gguf.read_bytes()
    half = len(data) // 2
    (CARRY_PART1 / "gguf.part0").write_bytes(data[:half])
    (CARRY / "gguf.part1").write_bytes(data[half:])
    (CARRY / "gguf.sha256").write_text(hashlib.sha256(data).hexdigest())
    print(f"GGUF split into {half} + {len(data) - half} bytes")


def build_base(gguf_dir: Path, work: Path) -> Path:
    """Join the two GGUF pieces, check the sha256 and convert with the asset's own converter."""
    from baseweight_assets.models import embedded

    bench = bench_config()
    model = bench.models[MODEL]
    gguf = work / "gguf" / Path(model.embedded_weights.gguf_member).name
    gguf.parent.mkdir(parents=True, exist_ok=True)
    with open(gguf, "wb") as out:
        for part in (gguf_dir / "gguf.part0", CARRY / "gguf.part1"):
            out.write(part.read_bytes())
    digest = embedded.sha256_file(gguf)
    if digest != model.embedded_weights.sha256:
        raise ValueError(f"{gguf}: sha256 {digest} != {model.embedded_weights.sha256} from configs/models/{MODEL}.yaml")
    import torch

    keep = torch.set_num_threads
    torch.set_num_threads = lambda n: None  # the converter pins 1 thread for the 2-core dev box; not here
    try:
        return embedded.convert_gguf(gguf, work / "smollm2-135m", model)
    finally:
        torch.set_num_threads = keep


def generate_all(model, tokenizer, chats: list[list[dict]], max_new_tokens: int, batch_size: int = 64) -> list[str]:
    import torch

    tokenizer.padding_side = "left"
    outputs = []
    for start in range(0, len(chats), batch_size):
        texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                 for c in chats[start:start + batch_size]]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            # <|im_end|> (2) ends a ChatML turn; the converted tokenizer reports <|im_start|> (1) as its EOS.
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=[1, 2])
        outputs += tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return outputs


def train(prompt, prepared, bench, base_dir, work, device, limit, max_epochs):
    from baseweight_assets.cost.pricing import hourly_rate
    from baseweight_assets.hardware import detect_hardware
    from baseweight_assets.training.trainer import train_adapter

    keep = set(prepared["lora_500_ids"])
    train = [r for r in prepared["splits"]["train"] if r["id"] in keep][:limit]
    val = prepared["splits"]["val"][:limit]
    config = bench.training_for(MODEL, TASK)  # the recipe as configured: nothing overridden
    hw = detect_hardware()
    t_train = time.perf_counter()
    metadata = train_adapter(
        base_model_dir=base_dir, train_rows=train, val_rows=val,
        render_messages=lambda ex: [*prompt.render_messages(ex),
                                    {"role": "assistant", "content": prompt.render_target(ex)}],
        config=config, out_dir=work / "adapter", work_dir=work / "checkpoints", max_epochs=max_epochs,
        hourly_rate=hourly_rate(bench.pricing, hw["hardware"], bench.pricing.default_scenario), hardware=hw["hardware"],
        input_fingerprint="gpu_finetune_smollm2", log=lambda m: print(m, flush=True),
    )
    train_s = time.perf_counter() - t_train
    return metadata, train_s


def run(gguf_dir: Path, out: Path, work: Path, device: str = "cuda", limit: int | None = None,
        max_epochs: int | None = None) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from baseweight_assets.prompting import PromptTemplate
    from baseweight_assets.scoring.score import score_predictions
    import gpu_common as gc_

    t0 = time.perf_counter()
    bench = bench_config()
    task = bench.tasks[TASK]
    prepared = json.loads((CARRY / f"{TASK}_prepared.json").read_text())
    base_dir = build_base(gguf_dir, work)
    print(f"base model ready in {time.perf_counter() - t0:.0f} s: {base_dir}", flush=True)
    prompt = PromptTemplate.load(REPO / "prompts", task, labels=prepared.get("labels"))

    test_ids = list(dict.fromkeys(q for seed in prepared["test_seeds"] for q in seed))
    pool = {ex["question_id"]: ex for ex in prepared["splits"]["test_pool"]}
    examples = [pool[q] for q in test_ids][:limit]
    shots = list(prepared["splits"]["few_shot"])
    max_new = task.max_output_tokens  # the full profile: no cap
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).to(device).eval()

    results = {"env": gc_.environment(), "conditions": {}}
    for condition in ("zero-shot", "5-shot", "lora-500"):
        model = base
        if condition == "lora-500":
            from peft import PeftModel

            metadata, train_s = train(prompt, prepared, bench, base_dir, work, device, limit, max_epochs)
            results.update(training=metadata, training_bf16=metadata.get("config", {}).get("bf16"),
                           train_wall_s=train_s)

            model = PeftModel.from_pretrained(base, str(work / "adapter")).eval()
        chats = [prompt.render_messages(ex, shots if condition == "5-shot" else []) for ex in examples]
        t1 = time.perf_counter()
        texts = generate_all(model, tokenizer, chats, max_new)
        gen_s = time.perf_counter() - t1
        rows = [{"id": ex["id"], "question_id": ex["question_id"], "output": text, "error": None}
                for ex, text in zip(examples, texts)]
        scored = score_predictions(task, prepared, rows, labels=prepared.get("labels"),
                                   n_bootstrap=bench.run.bootstrap_resamples, seed=bench.run.bootstrap_seed)
        keep_keys = ("metric_id", "metric", "ci_lo", "ci_hi", "seed_mean", "seed_std", "n", "secondary",
                     "error_counts")
        results["conditions"][condition] = {**{k: scored.get(k) for k in keep_keys}, "generate_s": gen_s,
                                            "sample_outputs": texts[:5]}
        print(f"{condition}: {results['conditions'][condition]}", flush=True)
        gc_.write_json_atomic(out / "gpu_finetune_smollm2.json", results)

    print(f"\n{results['env']['device']}  train {results.get('train_wall_s', 0):.0f} s  "
          f"backend {results.get('training', {}).get('backend')}")
    rows = [{"condition": c, **{k: v for k, v in r.items() if k in ("metric_id", "metric", "ci_lo", "ci_hi", "n",
                                                                     "seed_mean", "seed_std")}}
            for c, r in results["conditions"].items()]
    gc_.print_table(rows, ["condition", "metric_id", "metric", "ci_lo", "ci_hi", "seed_mean", "seed_std", "n"])
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--data-root", default="/work/shared/data")
    p.add_argument("--gguf", default=str(REPO / ".cache/models/_downloads/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"))
    r = sub.add_parser("run")
    r.add_argument("--gguf-dir", default="/tmp/bw_gguf", help="where the first call left gguf.part0")
    r.add_argument("--work", default="/tmp/bw_finetune")
    r.add_argument("--out", default="benchmarks/out")
    r.add_argument("--device", default="cuda")
    r.add_argument("--max-epochs", type=int, default=None, help="cap on epochs (default: the config's cap)")
    r.add_argument("--limit", type=int, default=None, help="first N train/val/test rows only (CPU smoke)")
    a = ap.parse_args(argv)
    if a.cmd == "prepare":
        prepare(Path(a.data_root), Path(a.gguf))
        return 0
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    return run(Path(a.gguf_dir), Path(a.out), work, a.device, a.limit, a.max_epochs)


if __name__ == "__main__":
    raise SystemExit(main())
