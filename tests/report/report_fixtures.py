"""Hand-made score and adapter dicts shared by the report tests (a realistic dashboard without a run).

The shapes are the lead's: ``score_predictions``' result plus ``status``, ``run``, ``samples``; LoRA cells
trained under k seeds carry ``per_seed`` and ``seed_variance`` with the seed-aware top-level metric
(``curves.seeds.seeded_cell``); adapters carry one record per seed. Metrics and CIs are COMPUTED from the
per-question rows with the benchmark's own functions, so a curve point equals its cell.

Outcomes are paired across cells the way real systems are: every question has a difficulty ``u`` (shared by
all cells of a task), and a cell answers it right when ``u + jitter < p`` (jitter per cell and seed, uniform in
+-0.1). Better cells then get right what worse ones get right, give or take the jitter.
"""

import random
from pathlib import Path

import numpy as np

from baseweight_assets.config.loader import BenchConfig, load_model_file
from baseweight_assets.config.schema import ModelConfig, PricingConfig, RunDefaults, TaskConfig, TrainingConfig
from baseweight_assets.curves.seeds import seeded_cell
from baseweight_assets.scoring.categories import CLASSIFICATION, CODE, EXTRACTION
from baseweight_assets.scoring.stats import bootstrap_ci, metric_factory

REPO = Path(__file__).resolve().parents[2]
HOSTILE = "<img src=x onerror=alert(1)>"
CONFIGS = REPO / "configs"
N_RESAMPLES = 200
TASK_TYPES = {"banking77": "classification", "cuad": "extraction", "mbpp": "code"}
METRICS = {"banking77": "weighted_f1", "cuad": "multi_span_f1", "mbpp": "pass_at_1"}
WRONG = {"classification": ("wrong_class", "format_violation", "empty"),
         "extraction": ("missed", "partial", "wrong_span", "hallucinated"),
         "code": ("wrong_answer", "runtime_error", "syntax_error")}
SUCCESS = {"classification": "correct", "extraction": "correct", "code": "pass"}
ORDER = {"classification": CLASSIFICATION, "extraction": EXTRACTION, "code": CODE}


def count_categories(kind: str, categories: list[str]) -> dict[str, int]:
    """Counts in scoring's order (failures first, successes last), zeros included."""
    counts = dict.fromkeys(ORDER[kind], 0)
    for category in categories:
        counts[category] += 1
    return counts


def load_bench() -> BenchConfig:
    """The repo's real configs (prompts are not needed by the report code)."""
    def many(folder, model):
        return {p.stem: load_model_file(p, model) for p in sorted((CONFIGS / folder).glob("*.yaml"))}
    return BenchConfig(CONFIGS, many("tasks", TaskConfig), many("models", ModelConfig),
                       many("training", TrainingConfig), load_model_file(CONFIGS / "pricing.yaml", PricingConfig),
                       load_model_file(CONFIGS / "run_defaults.yaml", RunDefaults), REPO / "prompts")


def question_ids(task: str, n: int) -> list[str]:
    return [f"{task}-q{i:03d}" for i in range(n)]


def per_example(task: str, key: str, p_correct: float, n: int, *, jitter: float = 0.1,
                windows: int = 1) -> list[dict]:
    """One scored entry per question (module docstring for how outcomes are paired across cells)."""
    difficulty = random.Random(f"{task}|difficulty")
    u = [difficulty.random() for _ in range(n)]
    rng = random.Random(f"{task}|{key}")
    kind = TASK_TYPES.get(task, "classification")
    rows = []
    for i, qid in enumerate(question_ids(task, n)):
        ok = u[i] + rng.uniform(-jitter, jitter) < p_correct
        gold = "card_arrival" if i % 2 else "top_up"
        row = {"question_id": qid, "correct": 1.0 if ok else 0.0,
               "category": SUCCESS[kind] if ok else WRONG[kind][i % len(WRONG[kind])],
               "gold": gold, "parsed": gold if ok else "cash_withdrawal"}
        if windows > 1:  # CUAD: questions about one contract share a cluster
            row["cluster"] = f"contract-{i // windows}"
        rows.append(row)
    return rows


def _metric_and_ci(task: str, metric_id: str, rows: list[dict]) -> tuple[float | None, float | None, float | None]:
    if not rows:
        return None, None, None
    factory = metric_factory(metric_id)
    value = float(factory(rows)(np.arange(len(rows))))
    lo, hi = bootstrap_ci(factory, rows, N_RESAMPLES, 0)
    return value, lo, hi


def make_scores(task: str, variant: str, p_correct: float, *, n: int = 120, windows: int = 1,
                qps: float = 2.0, hardware: str | None = "cpu-2core", stand_in: bool = False,
                served_by: str = "transformers", sample_output: str | None = None, n_seeds: int = 1,
                missing: int = 0, missing_error: str = "HTTP 429: retries exhausted", cached_input: int = 0,
                metric_id: str | None = None, sandbox: dict | None = None) -> dict:
    """A scores value. ``missing`` questions failed (left out of per_example, counted ``missing``); with
    ``n_seeds`` > 1 the cell is a LoRA cell trained under that many seeds."""
    metric_id = metric_id or METRICS.get(task, "weighted_f1")
    seeds = [per_example(task, f"{variant}|seed{s}", p_correct, n, windows=windows) for s in range(n_seeds)]
    failed = set(question_ids(task, n)[:missing])
    seeds = [[r for r in rows if r["question_id"] not in failed] for rows in seeds]
    rows = seeds[0]
    if sample_output is not None and rows:
        rows[0] |= {"output": sample_output, "correct": 0.0, "category": WRONG[TASK_TYPES.get(task, "classification")][1]}
    value, lo, hi = _metric_and_ci(task, metric_id, rows)
    counts = count_categories(TASK_TYPES.get(task, "classification"),
                              [r["category"] for r in rows] + ["missing"] * len(failed))
    completeness = {"n_sampled": n, "n_scored": n - len(failed), "n_missing": len(failed),
                    "missing_share": len(failed) / n, "threshold": 0.02, "complete": len(failed) / n <= 0.02,
                    "missing_examples": [{"question_id": q, "error": missing_error} for q in sorted(failed)[:5]]}
    half = {"low": rows[: len(rows) // 2], "high": rows[len(rows) // 2:]}
    seed_values = [_metric_and_ci(task, metric_id, part)[0] for part in half.values()]
    out = {"status": "ok", "reason": None, "task": task, "variant": variant, "metric_id": metric_id,
           "metric": value, "ci_lo": lo, "ci_hi": hi, "n": len(rows),
           "n_clusters": len({r.get("cluster", r["question_id"]) for r in rows}),
           "seed_values": seed_values, "seed_mean": float(np.mean(seed_values)) if rows else None,
           "seed_std": float(np.std(seed_values, ddof=1)) if rows else None, "seed_note": None,
           "secondary": {"accuracy": sum(r["correct"] for r in rows) / len(rows)} if rows else {},
           "error_counts": counts, "per_example": rows, "notes": [], "completeness": completeness,
           "run": {"wall_s": n * windows / qps, "throughput_qps": qps, "output_tokens_per_s": qps * 9,
                   "latency_p50_s": 0.4 / qps, "latency_p95_s": 0.9 / qps, "ttft_p50_s": 0.1 / qps, "latency_n": 8,
                   "saturated_qps": qps if hardware else None,
                   "saturated_output_tokens_per_s": qps * 9 if hardware else None,
                   "concurrency": 4, "hardware": hardware, "served_by": served_by, "stand_in": stand_in,
                   "spend_usd": 0.0, "total_input_tokens": 310 * n * windows, "total_output_tokens": 8 * n * windows,
                   "total_cached_input_tokens": cached_input, "n_requests": n * windows}}
    if sandbox is not None:
        out["sandbox"] = sandbox
    if n_seeds > 1:
        cell = seeded_cell(seeds, metric_factory(metric_id), N_RESAMPLES, 0)
        out |= {"metric": cell["metric"], "ci_lo": cell["ci_lo"], "ci_hi": cell["ci_hi"],
                "seed_variance": {k: cell["variance"][k] for k in ("examples", "seeds", "total", "seed_sd",
                                                                   "n_seeds", "note")},
                "per_seed": [{"seed": s, "adapter_key": f"key-{variant}-{s}", "per_example": part,
                              "error_counts": counts, "completeness": completeness}
                             | dict(zip(("metric", "ci_lo", "ci_hi"), _metric_and_ci(task, metric_id, part)))
                             for s, part in enumerate(seeds)]}
    return out


REVOKED = "HTTP 401: invalid_api_key (the key was revoked)"


def revoked_key_scores(task: str, variant: str, n: int = 120) -> dict:
    """An API cell whose every request failed with HTTP 401, in the shape ``score_predictions`` gives it
    (tests/scoring/test_score.py pins that shape): nothing scored, every question missing, incomplete."""
    return {"status": "ok", "reason": None, "task": task, "variant": variant, "metric_id": METRICS[task],
            "metric": None, "ci_lo": None, "ci_hi": None, "n": 0, "n_clusters": 0, "seed_values": [None],
            "seed_mean": None, "seed_std": None, "seed_note": None, "secondary": {"ci": {}},
            "error_counts": count_categories(TASK_TYPES[task], ["missing"] * n), "per_example": [],
            "notes": [f"{n} of {n} sampled question(s) are missing"], "samples": [],
            "completeness": {"n_sampled": n, "n_scored": 0, "n_missing": n, "missing_share": 1.0, "threshold": 0.02,
                             "complete": False, "missing_examples": [{"question_id": q, "error": REVOKED}
                                                                     for q in question_ids(task, n)[:5]]},
            "run": {"wall_s": 3.0, "throughput_qps": None, "latency_p50_s": None, "latency_p95_s": None,
                    "ttft_p50_s": None, "latency_n": 0, "concurrency": 8, "hardware": None, "served_by": "openai",
                    "stand_in": False, "spend_usd": 0.0, "total_input_tokens": 0, "total_output_tokens": 0,
                    "total_cached_input_tokens": 0, "n_requests": n}}


def make_adapter(gpu_hours: float = 0.05, hardware: str = "cpu-2core", n_points: int = 8, decay: float = 0.8,
                 n_train: int = 12, n_seeds: int = 1, hours_step: float = 0.0, reused: bool = False) -> dict:
    """A lora_adapter value with one record per training seed; seed s took gpu_hours + (s - (k-1)/2) x hours_step
    device-hours, so their mean is ``gpu_hours``."""
    loss = [{"step": 10 * i, "loss": 2.5 * decay ** i} for i in range(n_points)]
    val = [{"step": 10 * i, "loss": 2.6 * (decay + 0.05) ** i} for i in range(0, n_points, 2)]
    records = []
    for s in range(n_seeds):
        hours = gpu_hours + (s - (n_seeds - 1) / 2) * hours_step
        records.append({"seed": s, "adapter_key": f"key{s}-{n_train}", "adapter_dir": f"/tmp/x{s}",
                        "adapter_sha256": f"{s:02d}" + "ab" * 31, "reused": reused,
                        "metadata": {"training_cost_usd": hours * 0.05, "wall_time_s": hours * 3600,
                                     "gpu_hours": hours, "hardware": hardware, "gpu_name": None,
                                     "loss_history": loss, "val_loss_history": val, "n_train": n_train,
                                     "epochs_run": 1, "stopped_early": False}})
    return {"status": "ok", "reason": None, "condition": None, "n_train": n_train, "adapters": records,
            "adapter_dir": records[0]["adapter_dir"], "adapter_sha256": "ab" * 32,
            "metadata": records[0]["metadata"],
            "gpu_hours_spent": 0.0 if reused else sum(r["metadata"]["gpu_hours"] for r in records)}


SMOL, QWEN, NANO, MINI = "smollm2-135m", "qwen3-8b", "gpt-5.4-nano", "gpt-5.4-mini"
# the data-efficiency curves: (size, p_correct); "full" is 1000 rows for SmolLM2 and 2000 for Qwen3-8B
SMOL_CURVE = [(50, 0.40), (100, 0.48), (250, 0.55), (500, 0.61), ("full", 0.70)]
QWEN_CURVE = [(50, 0.55), (100, 0.66), (250, 0.74), (500, 0.80), ("full", 0.86)]


def task_inputs(task: str, windows: int = 1, n: int = 120) -> tuple[dict, dict]:
    """A realistic cell set: prompted cells, two LoRA curves (SmolLM2 under 3 training seeds, Qwen3-8B under
    one), a stand-in API cell, a real API cell, a skipped cell and an API cell whose key was revoked."""
    kw = {"windows": windows, "n": n}
    scores = {
        f"{SMOL}__zero-shot": make_scores(task, f"{SMOL}__zero-shot", 0.30, qps=3.0, **kw),
        f"{SMOL}__5-shot": make_scores(task, f"{SMOL}__5-shot", 0.42, qps=1.5, **kw),
        f"{QWEN}__zero-shot": make_scores(task, f"{QWEN}__zero-shot", 0.62, qps=18.0, hardware="H100-SXM", **kw),
        f"{NANO}__zero-shot": make_scores(task, f"{NANO}__zero-shot", 0.33, qps=2.5, stand_in=True, hardware=None,
                                          **kw),
        f"{MINI}__zero-shot": make_scores(task, f"{MINI}__zero-shot", 0.78, qps=4.0, hardware=None,
                                          served_by="openai", cached_input=100 * n * windows, **kw),
        f"{MINI}__5-shot": {"status": "skipped", "reason": "5-shot exceeds the context window"},
    }
    adapters = {}
    for size, p in SMOL_CURVE:
        key = f"{SMOL}__lora-{size}"
        scores[key] = make_scores(task, key, p, qps=3.0, n_seeds=3,
                                  sample_output=HOSTILE if size == 500 else None, **kw)
        n_train = 1000 if size == "full" else size
        adapters[key] = make_adapter(0.00005 * n_train, n_seeds=3, hours_step=0.000002 * n_train, n_train=n_train,
                                     decay=0.9 if size == 500 else 0.8, n_points=10 if size == "full" else 8)
    for size, p in QWEN_CURVE:
        key = f"{QWEN}__lora-{size}"
        scores[key] = make_scores(task, key, p, qps=17.0, hardware="H100-SXM", **kw)
        n_train = 2000 if size == "full" else size
        adapters[key] = make_adapter(1.41 if size == "full" else 0.0007 * n_train, "H100-SXM", 12, n_train=n_train)
    return scores, adapters


def code_task_inputs(n: int = 40) -> tuple[dict, dict]:
    """MBPP: pass@1 cells whose programs ran in the sandbox (its backend is shown)."""
    sandbox = {"backend": "bubblewrap+cgroup-v1", "memory_bound_mb": 512.0, "unsealed_tests": 0}
    scores = {f"{SMOL}__zero-shot": make_scores("mbpp", f"{SMOL}__zero-shot", 0.2, n=n, qps=2.0, sandbox=sandbox),
              f"{SMOL}__lora-full": make_scores("mbpp", f"{SMOL}__lora-full", 0.35, n=n, qps=2.0, sandbox=sandbox),
              f"{MINI}__zero-shot": make_scores("mbpp", f"{MINI}__zero-shot", 0.7, n=n, hardware=None,
                                                served_by="openai", sandbox=sandbox)}
    return scores, {f"{SMOL}__lora-full": make_adapter(0.03, n_train=374)}


def demo_summaries(bench) -> dict[str, dict]:
    from baseweight_assets.report.summary import summarize_task
    summaries = {}
    for task, windows in (("banking77", 1), ("cuad", 6)):
        scores, adapters = task_inputs(task, windows)
        scores[f"{NANO}__5-shot"] = revoked_key_scores(task, f"{NANO}__5-shot") if task == "banking77" else \
            make_scores(task, f"{NANO}__5-shot", 0.4, windows=windows, missing=12, hardware=None)
        summaries[task] = summarize_task(bench.tasks[task], scores, adapters, bench, n_resamples=N_RESAMPLES, seed=0)
    scores, adapters = code_task_inputs()
    summaries["mbpp"] = summarize_task(bench.tasks["mbpp"], scores, adapters, bench, n_resamples=N_RESAMPLES, seed=0)
    return summaries


def build_demo_dashboard(bench, profile: str = "smoke") -> dict:
    from baseweight_assets.report.dashboard import build_dashboard
    provenance = {"tasks": {"banking77": {"source": "offline", "dataset": "PolyAI/banking77", "revision": None,
                                          "partial": None, "prompt_hash": "11" * 32},
                            "cuad": {"source": "offline", "dataset": "cuad", "revision": None,
                                     "partial": bench.tasks["cuad"].source.offline.partial,
                                     "prompt_hash": "22" * 32},
                            "mbpp": {"source": "offline", "dataset": "mbpp", "revision": None, "partial": None}}}
    return build_dashboard(bench, demo_summaries(bench), profile=profile, generated_at="2026-11-28T04:00:00Z",
                           package_version="0.1.0", provenance=provenance)
