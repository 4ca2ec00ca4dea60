"""Time the report stage at full-profile size: summaries (with paired tests), dashboard + schema validation,
tables and the static site, for 6 tasks x every configured model/condition x 500 questions.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/report_build.py [--resamples 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baseweight_assets.config.loader import BenchConfig, load_model_file  # noqa: E402
from baseweight_assets.config.schema import ModelConfig, PricingConfig, RunDefaults, TaskConfig, TrainingConfig  # noqa: E402
from baseweight_assets.report.dashboard import build_dashboard  # noqa: E402
from baseweight_assets.report.site_build import build_site  # noqa: E402
from baseweight_assets.report.summary import summarize_task  # noqa: E402
from baseweight_assets.report.tables import export_tables  # noqa: E402


def bench_config() -> BenchConfig:
    c = REPO / "configs"
    many = lambda d, m: {p.stem: load_model_file(p, m) for p in sorted((c / d).glob("*.yaml"))}  # noqa: E731
    return BenchConfig(c, many("tasks", TaskConfig), many("models", ModelConfig), many("training", TrainingConfig),
                       load_model_file(c / "pricing.yaml", PricingConfig),
                       load_model_file(c / "run_defaults.yaml", RunDefaults), REPO / "prompts")


def synthetic_scores(task: str, variant: str, rng: random.Random, n: int, api: bool) -> dict:
    """Timing input only: random correctness, plausible run facts. Never written anywhere as a result."""
    p = rng.uniform(0.3, 0.9)
    labels = ["a", "b", "c", "d"]
    rows = []
    for i in range(n):
        gold = labels[i % 4]
        ok = rng.random() < p
        rows.append({"question_id": f"{task}-{i}", "correct": float(ok), "category": "correct" if ok else "wrong",
                     "gold": gold, "parsed": gold if ok else labels[(i + 1) % 4]})
    qps = rng.uniform(1, 20)
    return {"status": "ok", "reason": None, "metric_id": "accuracy", "metric": p, "ci_lo": p - 0.04,
            "ci_hi": p + 0.04, "n": n, "seed_values": [p] * 3, "seed_mean": p, "seed_std": 0.01,
            "secondary": {}, "error_counts": {"correct": int(p * n), "wrong": n - int(p * n)}, "per_example": rows,
            "run": {"wall_s": n / qps, "throughput_qps": qps, "latency_p50_s": 0.2, "latency_p95_s": 0.5,
                    "ttft_p50_s": 0.05, "output_tokens_per_s": 100, "concurrency": 4,
                    "hardware": None if api else "H100-SXM", "served_by": "openai" if api else "vllm",
                    "stand_in": False, "total_input_tokens": 400 * n, "total_output_tokens": 10 * n, "n_requests": n}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--questions", type=int, default=500)
    args = ap.parse_args()
    bench, rng = bench_config(), random.Random(0)
    inputs = {}
    for task in bench.tasks:
        scores, adapters = {}, {}
        for m in bench.models.values():
            for cond in m.conditions:
                key = f"{m.id}__{cond}"
                scores[key] = synthetic_scores(task, key, rng, args.questions, m.kind == "api")
                if cond.startswith("lora"):
                    adapters[key] = {"status": "ok", "adapter_sha256": "0" * 64, "metadata": {
                        "gpu_hours": 1.5, "hardware": "H100-SXM", "wall_time_s": 5400,
                        "loss_history": [2 * 0.9 ** i for i in range(200)],
                        "val_loss_history": [2.1 * 0.9 ** i for i in range(20)]}}
        inputs[task] = (scores, adapters)
    n_cells = sum(len(s) for s, _ in inputs.values())

    t0 = time.perf_counter()
    summaries = {t: summarize_task(bench.tasks[t], s, a, bench, n_resamples=args.resamples, seed=0)
                 for t, (s, a) in inputs.items()}
    t1 = time.perf_counter()
    dash = build_dashboard(bench, summaries, profile="full", generated_at="2026-01-01T00:00:00Z",
                           package_version="bench", provenance={"tasks": {}})
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        export_tables(dash, Path(tmp) / "tables")
        t3 = time.perf_counter()
        index = build_site(dash, Path(tmp) / "site")
        t4 = time.perf_counter()
        size = (index.parent / "data.js").stat().st_size
    n_cmp = sum(len(s["comparisons"]) for s in summaries.values())
    print(f"tasks={len(inputs)} cells={n_cells} questions/cell={args.questions} paired tests={n_cmp} "
          f"resamples={args.resamples}")
    print(f"summarize_task (all tasks, incl. paired tests): {t1 - t0:.2f} s")
    print(f"build_dashboard + schema validation:           {t2 - t1:.2f} s")
    print(f"export_tables:                                  {t3 - t2:.2f} s")
    print(f"build_site:                                     {t4 - t3:.2f} s")
    print(f"data.js size:                                   {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
