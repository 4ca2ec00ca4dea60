"""Time the report stage at full-profile size: summaries (headline paired tests, their Holm and selection families,
the data-efficiency curves), dashboard + schema validation, tables and the static site, for every configured task x
every variant the profile derives (``variants.all_variants``: ``lora`` expanded to one ``lora-N`` per curve size)
x 500 questions, LoRA cells trained under the profile's training seeds.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/report_build.py [--resamples 1000] [--questions 500]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baseweight_assets.conditions import FULL, is_lora, lora_size  # noqa: E402
from baseweight_assets.config.loader import BenchConfig, load_bench_config  # noqa: E402
from baseweight_assets.curves.seeds import seeded_cell  # noqa: E402
from baseweight_assets.report.dashboard import build_dashboard  # noqa: E402
from baseweight_assets.report.site_build import build_site  # noqa: E402
from baseweight_assets.report.summary import summarize_task  # noqa: E402
from baseweight_assets.report.tables import export_tables  # noqa: E402
from baseweight_assets.scoring.stats import bootstrap_ci, metric_factory  # noqa: E402
from baseweight_assets.tasks.registry import kind_of  # noqa: E402
from baseweight_assets.variants import all_variants, split_variant  # noqa: E402

LABELS = ["a", "b", "c", "d"]
CLUSTER_SIZE = 10  # questions per cluster for tasks with cluster_by (CUAD: questions about one contract)
LOCAL_HARDWARE = "H100-SXM"


def synthetic_rows(task, key: str, p_correct: float, n: int, difficulty: list[float]) -> list[dict]:
    """Scored per_example rows. Outcomes are paired across the task's cells as real systems' are: question i is right
    when its shared difficulty plus this cell's jitter (+-0.1) is below ``p_correct``."""
    rng = random.Random(f"{task.id}|{key}")
    success, failure = kind_of(task).categories[-1], kind_of(task).categories[-2]
    rows = []
    for i in range(n):
        ok = difficulty[i] + rng.uniform(-0.1, 0.1) < p_correct
        gold = LABELS[i % len(LABELS)]
        row = {"question_id": f"{task.id}-{i}", "correct": float(ok), "category": success if ok else failure,
               "gold": gold, "parsed": gold if ok else LABELS[(i + 1) % len(LABELS)]}
        if task.cluster_by:
            row["cluster"] = f"{task.id}-c{i // CLUSTER_SIZE}"
        rows.append(row)
    return rows


def synthetic_scores(task, key: str, p_correct: float, n: int, n_seeds: int, api: bool, difficulty: list[float],
                     n_resamples: int) -> dict:
    """Timing input only, in the shape of the scores assets (``scoring.seeded.score_cell`` for LoRA cells under
    several training seeds: ``per_seed`` and ``seed_variance``, seed-aware top-level CI). Metrics and CIs are
    computed from the rows with the benchmark's own functions. Never written anywhere as a result."""
    factory = metric_factory(task.metric)
    seeds = [synthetic_rows(task, f"{key}|seed{s}", p_correct, n, difficulty) for s in range(n_seeds)]
    rows = seeds[0]
    value = float(factory(rows)(np.arange(n)))
    lo, hi = bootstrap_ci(factory, rows, n_resamples, 0)
    counts = kind_of(task).count_categories([r["category"] for r in rows])
    completeness = {"n_sampled": n, "n_scored": n, "n_missing": 0, "missing_share": 0.0, "threshold": 0.02,
                    "complete": True, "missing_examples": []}
    rng = random.Random(f"{task.id}|{key}|run")
    qps = rng.uniform(1, 20)
    out = {"status": "ok", "reason": None, "task": task.id, "variant": key, "metric_id": task.metric,
           "metric": value, "ci_lo": lo, "ci_hi": hi, "n": n,
           "n_clusters": len({r.get("cluster", r["question_id"]) for r in rows}),
           "seed_values": [value] * 3, "seed_mean": value, "seed_std": 0.01, "seed_note": None,
           "secondary": {}, "error_counts": counts, "per_example": rows, "notes": [], "completeness": completeness,
           "run": {"wall_s": n / qps, "throughput_qps": qps, "latency_p50_s": 0.2, "latency_p95_s": 0.5,
                   "ttft_p50_s": 0.05, "latency_n": 8, "output_tokens_per_s": 100,
                   "saturated_qps": None if api else qps, "saturated_output_tokens_per_s": None if api else 10 * qps,
                   "concurrency": 4, "hardware": None if api else LOCAL_HARDWARE,
                   "served_by": "openai" if api else "engine", "stand_in": False, "spend_usd": 0.0,
                   "total_input_tokens": 400 * n, "total_output_tokens": 10 * n, "total_cached_input_tokens": 0,
                   "n_requests": n}}
    if n_seeds > 1:
        cell = seeded_cell(seeds, factory, n_resamples, 0)
        out |= {"metric": cell["metric"], "ci_lo": cell["ci_lo"], "ci_hi": cell["ci_hi"],
                "seed_variance": {k: cell["variance"][k] for k in ("examples", "seeds", "total", "seed_sd",
                                                                   "n_seeds", "note")},
                "per_seed": [{"seed": s, "adapter_key": f"{key}-seed{s}", "per_example": part, "error_counts": counts,
                              "completeness": completeness, "metric": float(factory(part)(np.arange(n))),
                              "ci_lo": None, "ci_hi": None} for s, part in enumerate(seeds)]}
    return out


def synthetic_adapter(key: str, n_train: int, n_seeds: int) -> dict:
    """A lora_adapter value with one record per training seed; device-hours grow with the training rows."""
    records = []
    for s in range(n_seeds):
        hours = 0.2 + n_train / 2000 + 0.01 * s
        records.append({"seed": s, "adapter_key": f"{key}-seed{s}", "adapter_dir": f"/tmp/{key}/seed{s}",
                        "adapter_sha256": f"{s:02d}" + "0" * 62, "reused": False,
                        "metadata": {"gpu_hours": hours, "training_cost_usd": hours * 2.5, "hardware": LOCAL_HARDWARE,
                                     "gpu_name": None, "wall_time_s": hours * 3600, "n_train": n_train,
                                     "epochs_run": 3, "stopped_early": False,
                                     "loss_history": [2 * 0.9 ** i for i in range(200)],
                                     "val_loss_history": [2.1 * 0.9 ** i for i in range(20)]}})
    return {"status": "ok", "reason": None, "condition": split_variant(key)[1], "n_train": n_train,
            "adapters": records, "adapter_dir": records[0]["adapter_dir"],
            "adapter_sha256": records[0]["adapter_sha256"], "metadata": records[0]["metadata"],
            "gpu_hours_spent": sum(r["metadata"]["gpu_hours"] for r in records)}


def task_inputs(bench: BenchConfig, task_id: str, profile: str, n: int, n_resamples: int,
                rng: random.Random) -> tuple[dict, dict]:
    """Every variant of the profile for one task: prompted and API cells, a LoRA curve per open model (accuracy
    rising with N; ``lora-full`` trained on twice the largest sized N), sizes outside the task's curve skipped."""
    task = bench.tasks[task_id]
    curve = bench.lora_sizes(task_id, profile)
    sized = [s for s in curve if s != FULL] or [1]
    n_seeds = bench.training_seeds(profile)
    difficulty = [random.Random(f"{task_id}|difficulty|{i}").random() for i in range(n)]
    base = {m: rng.uniform(0.3, 0.6) for m in bench.models}
    scores, adapters = {}, {}
    for key in all_variants(bench, profile):
        model_id, condition = split_variant(key)
        api = bench.models[model_id].kind == "api"
        if not is_lora(condition):
            scores[key] = synthetic_scores(task, key, base[model_id] + (0.05 if condition == "5-shot" else 0.0),
                                           n, 1, api, difficulty, n_resamples)
            continue
        size = lora_size(condition)
        if size not in curve:
            scores[key] = {"status": "skipped", "reason": f"{condition} is not on {task_id}'s curve {curve}"}
            continue
        n_train = 2 * max(sized) if size == FULL else size
        p = base[model_id] + 0.35 * (1 - math.exp(-n_train / 400))
        scores[key] = synthetic_scores(task, key, p, n, n_seeds, api, difficulty, n_resamples)
        adapters[key] = synthetic_adapter(key, n_train, n_seeds)
    return scores, adapters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--profile", default="full", help="the run_defaults profile whose variants and seeds are built")
    args = ap.parse_args()
    bench, rng = load_bench_config(REPO / "configs"), random.Random(0)
    inputs = {t: task_inputs(bench, t, args.profile, args.questions, args.resamples, rng) for t in sorted(bench.tasks)}
    n_cells = sum(len(s) for s, _ in inputs.values())

    t0 = time.perf_counter()
    summaries = {t: summarize_task(bench.tasks[t], s, a, bench, n_resamples=args.resamples, seed=0)
                 for t, (s, a) in inputs.items()}
    t1 = time.perf_counter()
    n_cmp = sum(len(s["comparisons"]) for s in summaries.values())
    n_tested = sum(len(s["comparison_stats"]["pairs"]) for s in summaries.values())
    n_curves = sum(len(s["curves"]) for s in summaries.values())
    dash = build_dashboard(bench, summaries, profile=args.profile, generated_at="2026-01-01T00:00:00Z",
                           package_version="bench", provenance={"tasks": {}})
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        export_tables(dash, Path(tmp) / "tables")
        t3 = time.perf_counter()
        index = build_site(dash, Path(tmp) / "site")
        t4 = time.perf_counter()
        size = (index.parent / "data.js").stat().st_size
    print(f"tasks={len(inputs)} cells={n_cells} questions/cell={args.questions} paired tests={n_cmp} shown, "
          f"{n_tested} run curves={n_curves} training seeds={bench.training_seeds(args.profile)} "
          f"resamples={args.resamples}")
    print(f"summarize_task (all tasks, incl. paired tests, curves): {t1 - t0:.2f} s")
    print(f"build_dashboard + schema validation:           {t2 - t1:.2f} s")
    print(f"export_tables:                                  {t3 - t2:.2f} s")
    print(f"build_site:                                     {t4 - t3:.2f} s")
    print(f"data.js size:                                   {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
