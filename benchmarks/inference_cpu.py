"""CPU inference figures for docs/PERFORMANCE.md.

1. Client overhead: the async client + store against the zero-latency fault server on loopback
   (no model), so the number is what the harness itself costs per request.
2. The embedded model: SmolLM2-135M through the real `transformers serve` on CPU, latency/TTFT at
   concurrency 1 (probe) and throughput at the configured concurrency, warm-up excluded.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/inference_cpu.py [--n 16] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "inference")]
os.environ.setdefault("OMP_NUM_THREADS", "1")

from fault_server import FaultServer  # noqa: E402

from baseweight_assets.inference.endpoint import Endpoint  # noqa: E402
from baseweight_assets.inference.requests import PredictionRequest  # noqa: E402
from baseweight_assets.inference.runner import run_predictions  # noqa: E402
from baseweight_assets.inference.servers import TransformersServer  # noqa: E402

QUERIES = ["My card has not arrived yet, what should I do?", "How do I top up my account by bank transfer?",
           "Why was I charged an exchange fee on my payment?", "I think someone stole my card details.",
           "Can I change my PIN at an ATM?", "My transfer to a friend is still pending."]


def _requests(n: int, max_tokens: int, tag: str) -> list[PredictionRequest]:
    return [PredictionRequest(example_id=f"{tag}-{i}", question_id=f"{tag}-{i}", messages=[
        {"role": "system", "content": "Classify the banking customer's message into one intent. Reply with the intent only."},
        {"role": "user", "content": f"{QUERIES[i % len(QUERIES)]} (ticket {i})"}], max_tokens=max_tokens,
        response_format=None, guided_choice=None, extra_body={}, prompt_hash="bench", few_shot_hash="")
        for i in range(n)]


def _run(reqs, endpoint, store, concurrency, warmup, probe):
    return run_predictions(reqs, endpoint, store, task_id="bench", model_id="bench", condition="zero-shot",
                           concurrency=concurrency, timeout_s=300, max_attempts=3, warmup=warmup, price=None,
                           spend_cap_usd=None, rpm=None, tpm=None, log=lambda m: None, latency_probe=probe)["run"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--overhead-n", type=int, default=400)
    ap.add_argument("--model", default=str(REPO / ".cache" / "models" / "smollm2-135m"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bw-inf-bench-"))
    out = {"machine": f"{platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}",
           "omp_num_threads": os.environ["OMP_NUM_THREADS"]}
    with FaultServer() as server:
        ep = Endpoint(base_url=server.base_url, model="m", api_key_env=None, served_by="vllm", stand_in=False,
                      supports_logprobs=True, supports_json_schema=False, supports_guided_choice=False,
                      identity="bench|fault")
        t0 = time.perf_counter()
        run = _run(_requests(args.overhead_n, 16, "o"), ep, tmp / "overhead.jsonl", 16, 0, 8)
        out["client_overhead"] = {"requests": args.overhead_n, "concurrency": 16,
                                  "throughput_qps": run["throughput_qps"], "wall_s": time.perf_counter() - t0,
                                  "latency_p50_s_at_c1": run["latency_p50_s"]}
        t0 = time.perf_counter()
        rerun = _run(_requests(args.overhead_n, 16, "o"), ep, tmp / "overhead.jsonl", 16, 0, 8)
        out["cached_rerun"] = {"calls_made": rerun["calls_made"], "wall_s": time.perf_counter() - t0}
    if Path(args.model, "model.safetensors").exists():
        t0 = time.perf_counter()
        with TransformersServer(tmp / "serve.log") as server:
            startup = time.perf_counter() - t0
            ep = Endpoint(base_url=server.base_url, model=args.model, api_key_env=None, served_by="transformers",
                          stand_in=False, supports_logprobs=False, supports_json_schema=False,
                          supports_guided_choice=False, identity=f"transformers|{args.model}")
            run = _run(_requests(args.n, args.max_tokens, "s"), ep, tmp / "smol.jsonl", args.concurrency, 2, 6)
        out["smollm2_transformers_serve"] = {"startup_s": startup, "requests": args.n,
                                             "max_tokens": args.max_tokens, **run}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
