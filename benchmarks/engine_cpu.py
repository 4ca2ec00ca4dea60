"""CPU figures for the in-process engine (docs/PERFORMANCE.md): real cells through ``LocalEngine`` against one
request at a time through ``model.generate``, and the prediction work of the smoke main job.

Cells are built the way ``local_predictions`` builds them (prepare_task, the prompt templates, build_requests), with
the real SmolLM2-135M-Instruct in fp32. Closed-label tasks are constrained to their labels in the engine. The
baseline is plain greedy ``generate`` on one prompt at a time, with no constraint and the same stop tokens: what
``transformers serve`` did per request, without HTTP.

Both wall and process CPU seconds are printed. The VM's 2 cores are shared with other jobs, so wall time is noisy;
with OMP_NUM_THREADS=1 the CPU seconds are close to what an idle core would take.

Run (repo root):
  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/engine_cpu.py                      # the two cells of the brief
  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/engine_cpu.py --smoke-projection   # + all six smoke tasks
  options: --cells banking77:zero-shot,medmcqa:5-shot  --n 24  --baseline-n 6  --max-new 48  --dtype bfloat16
           --out .cache/bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from baseweight_assets.config import load_bench_config  # noqa: E402
from baseweight_assets.data.prepare import prepare_task  # noqa: E402
from baseweight_assets.data.raw import load_raw  # noqa: E402
from baseweight_assets.inference.endpoint import Endpoint  # noqa: E402
from baseweight_assets.inference.engine import EngineRequest, LocalEngine  # noqa: E402
from baseweight_assets.inference.requests import build_requests  # noqa: E402
from baseweight_assets.prompting import PromptTemplate  # noqa: E402

MODEL = REPO / ".cache" / "models" / "smollm2-135m"
DATA = Path(os.environ.get("BASEWEIGHT_DATA_DIR") or REPO.parent / "shared" / "data")
# Only the request fields matter here: guided choice on (the engine's closed labels), nothing is contacted.
ENGINE_ENDPOINT = Endpoint(base_url=None, model="local", api_key_env=None, served_by="vllm", stand_in=False,
                           supports_logprobs=True, supports_json_schema=False, supports_guided_choice=True,
                           identity="bench|engine")


class Clock:
    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0


def cell_requests(cfg, task_id: str, condition: str, *, smoke: bool, n: int | None, max_new: int):
    """The cell's requests as local_predictions builds them, converted to EngineRequests."""
    profile = cfg.run.profiles["smoke"] if smoke else cfg.run.profiles["full"]
    task = profile.apply_to_task(cfg.tasks[task_id])
    raw = load_raw(task, DATA)
    prompt = PromptTemplate.load(cfg.prompts_dir, task, raw["labels"])
    prepared = prepare_task(task, raw, prompt, n_eval_seeds=(profile.n_eval_seeds or cfg.run.n_eval_seeds),
                            rows_per_split=profile.rows_per_split)
    max_tokens = min(task.max_output_tokens, max_new)
    reqs = build_requests(task, prepared, prompt, cfg.models["smollm2-135m"], condition, max_tokens=max_tokens,
                          constrained=cfg.run.constrained_decoding, endpoint=ENGINE_ENDPOINT)
    if n:
        reqs = reqs[:n]
    return [EngineRequest(messages=r.messages, max_new_tokens=r.max_tokens, allowed_outputs=r.guided_choice,
                          logprobs=True, chat_template_kwargs=r.extra_body.get("chat_template_kwargs"))
            for r in reqs]


def baseline(engine: LocalEngine, requests: list[EngineRequest]) -> tuple[dict, list[list[int]]]:
    """One prompt at a time through generate (sdpa, fp32, unconstrained), same stop tokens."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32, attn_implementation="sdpa").eval()
    outputs, tokens = [], 0
    with Clock() as clock, torch.inference_mode():
        for r in requests:
            text = engine.tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False)
            ids = torch.tensor([engine.tokenizer(text, add_special_tokens=False)["input_ids"]])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=r.max_new_tokens,
                                 do_sample=False, eos_token_id=list(engine.stop_ids), pad_token_id=2)
            outputs.append(out[0, ids.shape[1]:].tolist())
            tokens += len(outputs[-1])
    return {"requests": len(requests), "wall_s": clock.wall, "cpu_s": clock.cpu, "output_tokens": tokens,
            "tokens_per_s_wall": tokens / clock.wall, "tokens_per_s_cpu": tokens / clock.cpu,
            "s_per_request_wall": clock.wall / len(requests), "s_per_request_cpu": clock.cpu / len(requests)}, outputs


def engine_run(engine: LocalEngine, requests: list[EngineRequest]) -> tuple[dict, list]:
    engine._prefixes.clear()  # each cell pays for its own shared prefix
    with Clock() as clock:
        results = engine.generate(requests)
    stats = engine.last_run
    tokens = sum(r.output_tokens for r in results)
    return {"requests": len(requests), "wall_s": clock.wall, "cpu_s": clock.cpu, "output_tokens": tokens,
            "tokens_per_s_wall": tokens / clock.wall, "tokens_per_s_cpu": tokens / clock.cpu,
            "s_per_request_wall": clock.wall / len(requests), "s_per_request_cpu": clock.cpu / len(requests),
            "prompt_tokens": sum(r.input_tokens for r in results),
            "shared_prefix_tokens": stats.prefix_tokens_computed, "prefilled_tokens":
            sum(b.prefilled_tokens for b in stats.batches), "batches": [b.rows for b in stats.batches],
            "finish": {f: sum(r.finish_reason == f for r in results) for f in ("stop", "length")}}, results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", default="banking77:zero-shot,medmcqa:zero-shot")
    ap.add_argument("--n", type=int, default=24, help="requests per cell")
    ap.add_argument("--baseline-n", type=int, default=6, help="requests run one at a time for the baseline")
    ap.add_argument("--max-new", type=int, default=48, help="cap on new tokens (the smoke profile's 48)")
    ap.add_argument("--smoke-projection", action="store_true",
                    help="also run every task's zero-shot and 5-shot cell of the smoke profile")
    ap.add_argument("--dtype", default="auto", help="the engine's dtype: auto (fp32 on CPU) or bfloat16")
    ap.add_argument("--out", default=str(REPO / ".cache" / "bench"))
    a = ap.parse_args()
    cfg = load_bench_config(REPO / "configs")
    with Clock() as load:
        engine = LocalEngine(MODEL, dtype=a.dtype)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "torch": torch.__version__,
              "engine": engine.describe(), "load_s": load.wall, "cells": [], "smoke": []}
    print(f"engine loaded in {load.wall:.1f}s: {engine.describe()}", flush=True)
    for cell in a.cells.split(","):
        task_id, condition = cell.split(":")
        requests = cell_requests(cfg, task_id, condition, smoke=False, n=a.n, max_new=a.max_new)
        eng, results = engine_run(engine, requests)
        base, outputs = baseline(engine, requests[:a.baseline_n])
        free = [i for i, r in enumerate(requests[:a.baseline_n]) if r.allowed_outputs is None]
        same = sum(list(results[i].token_ids) == outputs[i] for i in free)
        row = {"cell": cell, "constrained": requests[0].allowed_outputs is not None, "engine": eng,
               "one_at_a_time": base, "identical_to_baseline": f"{same}/{len(free)}" if free else "n/a (constrained)",
               "speedup_per_request_wall": base["s_per_request_wall"] / eng["s_per_request_wall"],
               "speedup_per_request_cpu": base["s_per_request_cpu"] / eng["s_per_request_cpu"]}
        report["cells"].append(row)
        print(json.dumps(row), flush=True)
    if a.smoke_projection:
        for task_id in sorted(cfg.tasks):
            for condition in ("zero-shot", "5-shot"):
                requests = cell_requests(cfg, task_id, condition, smoke=True, n=None, max_new=a.max_new)
                eng, _ = engine_run(engine, requests)
                report["smoke"].append({"task": task_id, "condition": condition, **eng})
                print(json.dumps(report["smoke"][-1]), flush=True)
        cell = {(r["task"], r["condition"]): r for r in report["smoke"]}
        # The main job runs per task: zero-shot, lora-500, lora-full and the API stand-in's zero-shot use the
        # zero-shot prompts; 5-shot and the stand-in's 5-shot use the 5-shot prompts.
        for clock in ("wall_s", "cpu_s"):
            report[f"smoke_projection_{clock}"] = sum(
                4 * cell[(t, "zero-shot")][clock] + 2 * cell[(t, "5-shot")][clock] for t in cfg.tasks)
    out = Path(a.out) / f"engine_cpu_{report['engine']['dtype']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print("\n| cell | requests | engine wall s (cpu s) | engine tok/s wall (cpu) | one-at-a-time s/request wall "
          "(cpu) | engine s/request wall (cpu) | speed-up per request wall (cpu) | identical |")
    print("|---|---|---|---|---|---|---|---|")
    for r in report["cells"]:
        e, b = r["engine"], r["one_at_a_time"]
        print(f"| {r['cell']}{' (labels)' if r['constrained'] else ''} | {e['requests']} | {e['wall_s']:.1f} "
              f"({e['cpu_s']:.1f}) | {e['tokens_per_s_wall']:.1f} ({e['tokens_per_s_cpu']:.1f}) | "
              f"{b['s_per_request_wall']:.2f} ({b['s_per_request_cpu']:.2f}) | {e['s_per_request_wall']:.2f} "
              f"({e['s_per_request_cpu']:.2f}) | {r['speedup_per_request_wall']:.1f}x "
              f"({r['speedup_per_request_cpu']:.1f}x) | {r['identical_to_baseline']} |")
    if report["smoke"]:
        print("\n| smoke cell | requests | prompt tokens | shared prefix | wall s (cpu s) | output tokens |")
        print("|---|---|---|---|---|---|")
        for r in report["smoke"]:
            print(f"| {r['task']} {r['condition']} | {r['requests']} | {r['prompt_tokens']} | "
                  f"{r['shared_prefix_tokens']} | {r['wall_s']:.1f} ({r['cpu_s']:.1f}) | {r['output_tokens']} |")
        print(f"\nsmoke main job prediction work (4 zero-shot-prompt cells + 2 five-shot cells per task): "
              f"{report['smoke_projection_wall_s']:.0f} s wall, {report['smoke_projection_cpu_s']:.0f} s cpu")
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
