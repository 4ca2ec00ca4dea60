"""CPU training figures for the embedded default: real SmolLM2-135M-Instruct, real BANKING77 rows, the trainer
the lora_adapter asset calls (``train_adapter``), the smollm2-135m recipe from configs/training/.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/training_cpu.py --n-train 32 --n-val 8

Prints one JSON object: wall time (model load + training + evals), steps, supervised (answer) and
processed (whole sequence) tokens/s, peak RSS, losses and the
cost at the cpu-2core mid rate of configs/pricing.yaml.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def banking77_rows(n: int, offset: int) -> list[dict]:
    path = Path(os.environ.get("BASEWEIGHT_DATA_DIR", REPO.parent / "shared" / "data")) / "banking77" / "raw" / "train.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = rows[offset::97][:n]  # spread over the label-sorted file so many intents appear
    return [{"id": "banking77-" + hashlib.sha1(r["text"].encode()).hexdigest()[:12], "group": r["category"],
             "fields": {"text": r["text"]}, "target": r["category"], "gold": r["category"], "meta": {}} for r in rows]


def render(row: dict) -> list[dict]:
    return [{"role": "system", "content": "Classify the online-banking customer query into its intent label."},
            {"role": "user", "content": f"Query: {row['fields']['text']}\nIntent label:"},
            {"role": "assistant", "content": row["target"]}]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-train", type=int, default=32)
    parser.add_argument("--n-val", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="override per_device_batch_size (gradient_accumulation scales to keep the effective batch)")
    parser.add_argument("--packing", action="store_true", help="padding-free (flattened) batches on CPU too")
    parser.add_argument("--model-dir", default=str(REPO / ".cache" / "models" / "smollm2-135m"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from baseweight_assets.config.loader import load_bench_config
    from baseweight_assets.training.trainer import train_adapter

    bench = load_bench_config(REPO / "configs")
    config = bench.training["smollm2-135m"]
    if args.batch_size:
        effective = config.per_device_batch_size * config.gradient_accumulation
        config = config.model_copy(update={"per_device_batch_size": args.batch_size,
                                           "gradient_accumulation": max(1, effective // args.batch_size)})
    if args.packing:
        config = config.model_copy(update={"packing": True})
    rate = bench.pricing.hardware["cpu-2core"].mid
    with tempfile.TemporaryDirectory() as tmp:
        meta = train_adapter(base_model_dir=args.model_dir, train_rows=banking77_rows(args.n_train, 0),
                             val_rows=banking77_rows(args.n_val, 50), render_messages=render, config=config,
                             out_dir=Path(tmp) / "adapter", work_dir=Path(tmp) / "work", max_epochs=1,
                             hourly_rate=rate, hardware="cpu-2core", input_fingerprint="benchmark", log=lambda m: None)
    supervised = meta["train_rendering"]["supervised_tokens"] * meta["epochs_run"]
    processed = meta["train_rendering"]["total_tokens"] * meta["epochs_run"]
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "backend": meta["backend"], "per_device_batch_size": config.per_device_batch_size,
        "gradient_accumulation": config.gradient_accumulation, "padding_free": meta["backend_detail"]["padding_free"], "n_train": meta["n_train"], "n_val": meta["n_val"], "steps": meta["steps"],
        "wall_time_s": meta["wall_time_s"], "supervised_tokens_per_s": round(supervised / meta["wall_time_s"], 1),
        "processed_tokens_per_s": round(processed / meta["wall_time_s"], 1),
        "train_tokens_per_epoch": meta["train_rendering"]["total_tokens"],
        "first_loss": meta["loss_history"][0]["loss"], "last_loss": meta["loss_history"][-1]["loss"],
        "best_val_loss": meta["best_val_loss"], "peak_rss_mb": meta["peak_rss_mb"],
        "training_cost_usd": meta["training_cost_usd"], "hourly_rate_usd": rate,
        "versions": {k: v for k, v in meta["library_versions"].items() if v},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
