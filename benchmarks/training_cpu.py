"""CPU training figures for the smoke main job: ``train_adapter`` (the function the lora_adapter asset calls) on the
real SmolLM2-135M-Instruct with the real smoke cells: the rows ``prepare_task`` draws under the smoke profile, the
task's prompt templates, the recipe ``configs/training/smollm2-135m.yaml`` with the task's overrides and the smoke
profile applied, one epoch (the profile's ``max_epochs``).

    source scripts/env.sh   # OMP_NUM_THREADS=1
    python benchmarks/training_cpu.py --cells banking77:lora-full,fpb:lora-full,mbpp:lora-full

Each cell trains in its own process (so peak RSS is that cell's); the table gives wall time (model load, training,
evaluations, checkpoints, publishing: the whole call), the process's CPU seconds (less sensitive than wall time to
other work on a shared host), optimizer steps, evaluations, losses and peak RSS. The JSON is written to
``--out``/training_cpu.json (default .cache/bench/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = "smollm2-135m"
PROFILE = "smoke"


def smoke_cell(task_id: str, condition: str) -> dict:
    """The inputs the lora_adapter asset passes to ``train_adapter`` for ``task_id|smollm2-135m__<condition>``."""
    from baseweight_assets.config import load_bench_config
    from baseweight_assets.cost.pricing import hourly_rate
    from baseweight_assets.data.prepare import prepare_task
    from baseweight_assets.data.raw import load_raw
    from baseweight_assets.prompting import PromptTemplate
    from baseweight_assets.settings import Settings
    from baseweight_assets.training.cell import cell_train_rows

    bench = load_bench_config(REPO / "configs")
    profile = bench.profile(PROFILE)
    task = profile.apply_to_task(bench.tasks[task_id])
    raw = load_raw(task, Settings.from_env().data_root)
    labels = raw.get("labels") or task.labels
    prompt = PromptTemplate.load(bench.prompts_dir, task, labels=labels)
    prepared = prepare_task(task, raw, prompt, n_eval_seeds=profile.n_eval_seeds or bench.run.n_eval_seeds,
                            rows_per_split=profile.rows_per_split, lora_sizes=bench.lora_sizes(task_id, PROFILE))
    return {"train_rows": cell_train_rows(prepared, condition), "val_rows": prepared["splits"]["val"],
            "render_messages": prompt.render_training_messages,
            "config": profile.apply_to_training(bench.training_for(MODEL, task_id)),
            "max_epochs": profile.max_epochs, "hourly_rate": hourly_rate(bench.pricing, "cpu-2core", "mid")}


def run_cell(task_id: str, condition: str, model_dir: str, batch: int | None = None) -> dict:
    """Train one cell in this process and return its figures (``batch``: rows per device step instead of the
    recipe's, gradient accumulation scaled to keep the rows per optimizer step)."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from baseweight_assets.training.trainer import train_adapter

    cell = smoke_cell(task_id, condition)
    if batch:
        config = cell["config"]
        effective = config.per_device_batch_size * config.gradient_accumulation
        if effective % batch:
            raise SystemExit(f"--batch {batch} does not divide the {effective} rows per optimizer step of {task_id}")
        cell["config"] = config.model_copy(update={"per_device_batch_size": batch,
                                                   "gradient_accumulation": effective // batch})
    logs: list[str] = []
    cpu0, wall0 = _cpu_s(), time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        meta = train_adapter(base_model_dir=model_dir, train_rows=cell["train_rows"], val_rows=cell["val_rows"],
                             render_messages=cell["render_messages"], config=cell["config"],
                             out_dir=Path(tmp) / "adapter", work_dir=Path(tmp) / "work",
                             max_epochs=cell["max_epochs"], hourly_rate=cell["hourly_rate"], hardware="cpu-2core",
                             input_fingerprint="benchmark", log=logs.append)
    call_s, cpu_s = time.monotonic() - wall0, _cpu_s() - cpu0
    config = cell["config"]
    return {
        "cell": f"{task_id}:{condition}", "n_train": meta["n_train"], "n_val": meta["n_val"],
        "train_tokens": meta["train_rendering"]["total_tokens"], "val_tokens": meta["val_rendering"]["total_tokens"],
        "batch": f"{config.per_device_batch_size}x{config.gradient_accumulation}", "steps": meta["steps"],
        "evals": len(meta["val_loss_history"]), "wall_s": round(call_s, 1), "cpu_s": round(cpu_s, 1),
        "first_loss": meta["loss_history"][0]["loss"] if meta["loss_history"] else None,
        "val_losses": [round(v["loss"], 5) for v in meta["val_loss_history"]],
        "best_val_loss": meta["best_val_loss"], "peak_rss_mb": meta["peak_rss_mb"],
        "backend_why": meta["backend_why"], "log": [line for line in logs if "training" in line or "shared" in line],
    }


def _cpu_s() -> float:
    return time.process_time()


def table(rows: list[dict]) -> str:
    head = ("| cell | rows train/val | tokens train/val | batch | steps | evals | wall s | CPU s | best val loss "
            "| peak RSS MB |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['n_train']}/{r['n_val']} | {r['train_tokens']}/{r['val_tokens']} | "
                     f"{r['batch']} | {r['steps']} | {r['evals']} | {r['wall_s']} | {r['cpu_s']} | "
                     f"{r['best_val_loss']:.4f} | {r['peak_rss_mb']:.0f} |")
    total_wall, total_cpu = sum(r["wall_s"] for r in rows), sum(r["cpu_s"] for r in rows)
    lines.append(f"| total | | | | | | {total_wall:.1f} | {total_cpu:.1f} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="banking77:lora-full,fpb:lora-full,mbpp:lora-full",
                        help="task:condition,... (conditions of the smoke curve: lora-4, lora-8, lora-full)")
    parser.add_argument("--model-dir", default=str(REPO / ".cache" / "models" / MODEL))
    parser.add_argument("--out", default=str(REPO / ".cache" / "bench"))
    parser.add_argument("--label", default="", help="a note stored with the result (e.g. before/after)")
    parser.add_argument("--batch", type=int, help="rows per device step instead of the recipe's (gradient "
                        "accumulation scaled to keep the rows per optimizer step)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: train one cell, print its JSON
    args = parser.parse_args()
    if args.one:
        task_id, condition = args.one.split(":")
        print("RESULT " + json.dumps(run_cell(task_id, condition, args.model_dir, args.batch)), flush=True)
        return
    rows = []
    for spec in args.cells.split(","):
        extra = ["--batch", str(args.batch)] if args.batch else []
        proc = subprocess.run([sys.executable, __file__, "--one", spec, "--model-dir", args.model_dir, *extra],
                              capture_output=True, text=True, cwd=REPO)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode or line is None:
            sys.exit(f"{spec}: failed (exit {proc.returncode})\n{proc.stderr[-3000:]}")
        rows.append(json.loads(line[len("RESULT "):]))
        print(json.dumps({k: rows[-1][k] for k in ("cell", "steps", "evals", "wall_s", "cpu_s", "best_val_loss")}),
              flush=True)
    import torch
    import transformers

    machine = f"{platform.machine()} {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    result = {"label": args.label, "batch_override": args.batch, "machine": machine,
              "load_average_after": os.getloadavg(),
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__}, "cells": rows}
    out = Path(args.out) / "training_cpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(table(rows))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
