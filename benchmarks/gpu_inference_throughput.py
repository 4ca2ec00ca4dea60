"""Offline generation throughput on one GPU: naive one-at-a-time `generate` vs batched engines, same run.

Shape: prompts of exactly 128 random tokens, 128 new tokens each, greedy, EOS ignored (eos_token_id=None and
every output is checked to hold exactly 128 tokens). Models: SmolLM2-135M's and Qwen3-8B's architectures with
random bf16 weights (speed does not depend on the weights' values, only on shapes; random weights do not emit EOS
early because EOS is switched off).
Engines (each one a transformers API that runs on the lent machine; vLLM cannot be installed there):
- naive:    `model.generate` on one prompt at a time, dynamic cache, eager;
- batched:  `model.generate` on a batch of B prompts, dynamic cache, eager;
- static:   `model.generate` on B prompts with cache_implementation="static" (transformers then compiles the
            decode step with torch.compile mode="reduce-overhead", i.e. CUDA graphs);
- cb:       `model.generate_batch` (transformers continuous batching, paged KV cache).
Roofline: bytes per decode step = weights + the KV cache read at that step; FLOPs = 2*N per token (+attention);
time floor = sum over steps of max(bytes / copy bandwidth, FLOPs / matmul rate), both measured on the card.

GPU:  python3 benchmarks/gpu_inference_throughput.py --out $OUT
CPU smoke: OMP_NUM_THREADS=1 python benchmarks/gpu_inference_throughput.py --tiny --device cpu
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_common as gc_  # noqa: E402


def prompts(n: int, length: int, vocab: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(10, vocab) for _ in range(length)] for _ in range(n)]


def gen_config(new_tokens: int, **extra):
    from transformers import GenerationConfig

    return GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                            eos_token_id=None, pad_token_id=0, bos_token_id=None, **extra)


def check_lengths(outputs: list[list[int]], new_tokens: int, engine: str) -> int:
    bad = [i for i, o in enumerate(outputs) if len(o) != new_tokens]
    if bad:
        raise AssertionError(f"{engine}: {len(bad)} outputs are not {new_tokens} tokens long (first: #{bad[0]})")
    return sum(len(o) for o in outputs)


def run_generate(model, batch: list[list[int]], new_tokens: int, device: str, **extra) -> tuple[int, float]:
    ids = torch.tensor(batch, device=device)
    cfg = gen_config(new_tokens, **extra)
    with gc_.Stopwatch(device) as sw, torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=cfg)
    return check_lengths(out[:, ids.shape[1]:].tolist(), new_tokens, "generate"), sw.seconds


def engine_naive(model, ps, new_tokens, device, n_requests):
    run_generate(model, ps[:1], 8, device)  # warm-up
    tokens, seconds = 0, 0.0
    for p in ps[:n_requests]:
        t, s = run_generate(model, [p], new_tokens, device)
        tokens, seconds = tokens + t, seconds + s
    return {"requests": n_requests, "batch": 1, "tokens": tokens, "seconds": seconds}


def engine_batched(model, ps, new_tokens, device, batch):
    run_generate(model, ps[:batch], 4, device)  # warm-up: kernels, allocator
    tokens, seconds = run_generate(model, ps[:batch], new_tokens, device)
    return {"requests": batch, "batch": batch, "tokens": tokens, "seconds": seconds}


def engine_static(model, ps, new_tokens, device, batch):
    t0 = time.perf_counter()
    run_generate(model, ps[:batch], new_tokens, device, cache_implementation="static")  # compile + graphs
    warm = time.perf_counter() - t0
    tokens, seconds = run_generate(model, ps[batch:2 * batch] if len(ps) >= 2 * batch else ps[:batch],
                                   new_tokens, device, cache_implementation="static")
    return {"requests": batch, "batch": batch, "tokens": tokens, "seconds": seconds, "warmup_s": warm}


def engine_cb(model, ps, new_tokens, device, n_requests):
    cfg = gen_config(new_tokens)
    # No inference_mode here: the continuous-batching thread updates its buffers in place outside it.
    with torch.no_grad():
        model.generate_batch(inputs=ps[:min(64, n_requests)], generation_config=cfg, progress_bar=False)
        with gc_.Stopwatch(device) as sw:
            result = model.generate_batch(inputs=ps[:n_requests], generation_config=cfg, progress_bar=False)
    outputs = [list(r.generated_tokens) for r in result.values()]
    if len(outputs) != n_requests:
        raise AssertionError(f"cb: {len(outputs)} results for {n_requests} requests")
    return {"requests": n_requests, "batch": "continuous", "tokens": check_lengths(outputs, new_tokens, "cb"),
            "seconds": sw.seconds}


def roofline(config, n_params: int, n_requests: int, batch: int, prompt: int, new: int,
             copy_gbps: float, tflops: float) -> dict:
    """Lower bound on wall time from the card's measured copy bandwidth and matmul rate."""
    kv_per_token = config.num_hidden_layers * 2 * config.num_key_value_heads * config.head_dim * 2  # bf16
    weight_bytes = 2 * n_params
    flops_per_token = 2 * n_params
    total_s, decode_bytes_s = 0.0, 0.0
    for start in range(0, n_requests, batch):
        b = min(batch, n_requests - start)
        total_s += max(b * prompt * flops_per_token / (tflops * 1e12), weight_bytes / (copy_gbps * 1e9))
        for step in range(1, new):  # first new token comes from the prefill
            ctx = prompt + step
            nbytes = weight_bytes + b * ctx * kv_per_token
            mem_s = nbytes / (copy_gbps * 1e9)
            decode_bytes_s += mem_s
            total_s += max(mem_s, b * flops_per_token / (tflops * 1e12))
    tokens = n_requests * new
    return {"floor_tokens_per_s": tokens / total_s, "bandwidth_only_tokens_per_s": tokens / decode_bytes_s,
            "kv_bytes_per_token": kv_per_token, "weight_bytes": weight_bytes}


def bench_model(name, config, engines, device, prompt_len, new_tokens, ceilings, a) -> list[dict]:
    model = gc_.build_random_model(config, device, dtype=torch.bfloat16 if device != "cpu" else torch.float32)
    model.eval()
    n_params = gc_.count_params(model)
    ps = prompts(max(a.requests, 2 * max(a.batches)), prompt_len, config.vocab_size, seed=0)
    rows = []
    for engine in engines:
        sizes = a.batches if engine in ("batched", "static") else [None]
        for b in sizes:
            label = f"{engine}" + (f" B={b}" if b else "")
            t0 = time.perf_counter()
            try:
                if engine == "naive":
                    r = engine_naive(model, ps, new_tokens, device, a.naive_requests)
                elif engine == "batched":
                    r = engine_batched(model, ps, new_tokens, device, b)
                elif engine == "static":
                    r = engine_static(model, ps, new_tokens, device, b)
                elif engine == "cb":
                    r = engine_cb(model, ps, new_tokens, device, a.requests)
                else:
                    raise ValueError(f"unknown engine {engine!r}")
                r["tokens_per_s"] = r["tokens"] / r["seconds"]
                r["requests_per_s"] = r["requests"] / r["seconds"]
                eff_batch = r["batch"] if isinstance(r["batch"], int) else min(a.requests, 1024)
                roof = roofline(config, n_params, r["requests"], eff_batch, prompt_len, new_tokens,
                                ceilings["copy_gbps"], ceilings["matmul_tflops"])
                r.update(roof)
                r["fraction_of_floor"] = r["tokens_per_s"] / roof["floor_tokens_per_s"]
            except Exception as exc:  # one engine failing must not lose the others
                traceback.print_exc()
                r = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            r.update(model=name, engine=label, n_params=n_params, wall_s=time.perf_counter() - t0)
            if torch.cuda.is_available():
                r["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
                torch.cuda.reset_peak_memory_stats()
            print(f"run: {r}", flush=True)
            rows.append(r)
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    del model
    gc.collect()
    torch._dynamo.reset()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--models", default="smollm2-135m,qwen3-8b")
    ap.add_argument("--engines", default="naive,batched,static,cb")
    ap.add_argument("--batches", default="256", help="batch sizes for the batched and static engines")
    ap.add_argument("--requests", type=int, default=1024, help="requests given to continuous batching")
    ap.add_argument("--naive-requests", type=int, default=4)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--out", default="benchmarks/out")
    a = ap.parse_args(argv)
    a.batches = [int(x) for x in a.batches.split(",")]
    device = a.device
    ceilings = {"copy_gbps": gc_.measure_copy_gbps(device), "matmul_tflops": gc_.measure_matmul_tflops(device)}
    if device == "cpu":  # placeholders so the smoke run exercises the roofline arithmetic
        ceilings = {"copy_gbps": 10.0, "matmul_tflops": 0.1}
    result = {"env": gc_.environment(), "ceilings": ceilings, "argv": sys.argv[1:], "runs": []}
    print(f"env: {result['env']}\nceilings: {ceilings}", flush=True)
    configs = {"smollm2-135m": gc_.tiny_config("llama") if a.tiny else gc_.smollm2_135m_config(),
               "qwen3-8b": gc_.tiny_config("qwen3") if a.tiny else gc_.qwen3_8b_config()}
    for name in a.models.split(","):
        result["runs"] += bench_model(name, configs[name], a.engines.split(","), device, a.prompt_len,
                                      a.new_tokens, ceilings, a)
        gc_.write_json_atomic(Path(a.out) / "gpu_inference_throughput.json", result)
    for name in a.models.split(","):
        naive = next((r for r in result["runs"] if r["model"] == name and r["engine"] == "naive"
                      and "tokens_per_s" in r), None)
        for r in result["runs"]:
            if r["model"] == name and naive and "tokens_per_s" in r:
                r["speedup_vs_naive"] = r["tokens_per_s"] / naive["tokens_per_s"]
    gc_.write_json_atomic(Path(a.out) / "gpu_inference_throughput.json", result)
    print(f"\n{result['env']['device']}  copy {ceilings['copy_gbps']:.0f} GB/s  matmul "
          f"{ceilings['matmul_tflops']:.0f} TFLOP/s")
    gc_.print_table(result["runs"], ["model", "engine", "requests", "tokens_per_s", "speedup_vs_naive",
                                     "floor_tokens_per_s", "fraction_of_floor", "peak_gib", "error"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
