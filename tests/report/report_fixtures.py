"""Hand-made score and adapter dicts shared by the report tests (a realistic dashboard without a run)."""

import random
from pathlib import Path

from baseweight_assets.config.loader import BenchConfig, load_model_file
from baseweight_assets.config.schema import ModelConfig, PricingConfig, RunDefaults, TaskConfig, TrainingConfig

REPO = Path(__file__).resolve().parents[2]
HOSTILE = "<img src=x onerror=alert(1)>"
CONFIGS = REPO / "configs"


def load_bench() -> BenchConfig:
    """The repo's real configs (prompts are not needed by the report code)."""
    def many(folder, model):
        return {p.stem: load_model_file(p, model) for p in sorted((CONFIGS / folder).glob("*.yaml"))}
    return BenchConfig(CONFIGS, many("tasks", TaskConfig), many("models", ModelConfig),
                       many("training", TrainingConfig), load_model_file(CONFIGS / "pricing.yaml", PricingConfig),
                       load_model_file(CONFIGS / "run_defaults.yaml", RunDefaults), REPO / "prompts")


def make_scores(task: str, variant: str, p_correct: float, *, n: int = 60, seed: int = 0, windows: int = 1,
                qps: float = 2.0, hardware: str | None = "cpu-2core", stand_in: bool = False,
                served_by: str = "transformers", sample_output: str | None = None) -> dict:
    rng = random.Random(f"{task}|{variant}|{seed}")
    per_example = []
    for i in range(n):
        ok = rng.random() < p_correct
        per_example.append({"question_id": f"{task}-q{i:03d}", "correct": 1.0 if ok else 0.0,
                            "category": "correct" if ok else ("wrong_class" if i % 3 else "format_error"),
                            "gold": "card_arrival" if i % 2 else "top_up", "parsed": None})
        per_example[-1]["parsed"] = per_example[-1]["gold"] if ok else "cash_withdrawal"
    if sample_output is not None:
        per_example[0] |= {"output": sample_output, "correct": 0.0, "category": "format_error"}
    share = sum(r["correct"] for r in per_example) / n
    counts = {}
    for r in per_example:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    seeds = [share - 0.01, share + 0.01]
    return {"status": "ok", "reason": None, "task": task, "variant": variant, "metric_id": "weighted_f1",
            "metric": share * 0.98, "ci_lo": max(0.0, share - 0.08), "ci_hi": min(1.0, share + 0.06), "n": n,
            "seed_values": seeds, "seed_mean": sum(seeds) / 2, "seed_std": 0.014,
            "secondary": {"accuracy": share, "macro_f1": share * 0.95}, "error_counts": counts,
            "per_example": per_example,
            "run": {"wall_s": n * windows / qps, "throughput_qps": qps, "output_tokens_per_s": qps * 9,
                    "latency_p50_s": 0.4 / qps, "latency_p95_s": 0.9 / qps, "ttft_p50_s": 0.1 / qps,
                    "concurrency": 4, "hardware": hardware, "served_by": served_by, "stand_in": stand_in,
                    "spend_usd": 0.0, "total_input_tokens": 310 * n * windows, "total_output_tokens": 8 * n * windows,
                    "n_requests": n * windows}}


def make_adapter(gpu_hours: float = 0.05, hardware: str = "cpu-2core", n_points: int = 8, decay: float = 0.8) -> dict:
    loss = [{"step": 10 * i, "loss": 2.5 * decay ** i} for i in range(n_points)]
    val = [{"step": 10 * i, "loss": 2.6 * (decay + 0.05) ** i} for i in range(0, n_points, 2)]
    return {"status": "ok", "reason": None, "adapter_dir": "/tmp/x", "adapter_sha256": "ab" * 32,
            "metadata": {"training_cost_usd": gpu_hours * 0.05, "wall_time_s": gpu_hours * 3600,
                         "gpu_hours": gpu_hours, "hardware": hardware, "gpu_name": None, "loss_history": loss,
                         "val_loss_history": val, "n_train": 12, "epochs_run": 1, "stopped_early": False}}


def task_inputs(task: str, windows: int = 1) -> tuple[dict, dict]:
    """A realistic smoke-sized cell set: local conditions, a stand-in API cell, a real API cell, a skipped cell."""
    m, q, nano, mini = "smollm2-135m", "qwen3-8b", "gpt-5.4-nano", "gpt-5.4-mini"
    scores = {
        f"{m}__zero-shot": make_scores(task, f"{m}__zero-shot", 0.30, windows=windows, qps=3.0),
        f"{m}__5-shot": make_scores(task, f"{m}__5-shot", 0.42, windows=windows, qps=1.5),
        f"{m}__lora-500": make_scores(task, f"{m}__lora-500", 0.61, windows=windows, qps=3.0,
                                      sample_output=HOSTILE),
        f"{m}__lora-full": make_scores(task, f"{m}__lora-full", 0.70, windows=windows, qps=3.0),
        f"{q}__zero-shot": make_scores(task, f"{q}__zero-shot", 0.62, windows=windows, qps=18.0, hardware="H100-SXM"),
        f"{q}__lora-full": make_scores(task, f"{q}__lora-full", 0.86, windows=windows, qps=17.0, hardware="H100-SXM"),
        f"{nano}__zero-shot": make_scores(task, f"{nano}__zero-shot", 0.33, windows=windows, qps=2.5,
                                          stand_in=True, hardware=None),
        f"{mini}__zero-shot": make_scores(task, f"{mini}__zero-shot", 0.78, windows=windows, qps=4.0,
                                          hardware=None, served_by="openai"),
        f"{mini}__5-shot": {"status": "skipped", "reason": "5-shot exceeds the context window"},
    }
    adapters = {f"{m}__lora-500": make_adapter(0.02, decay=0.9), f"{m}__lora-full": make_adapter(0.05, n_points=10),
                f"{q}__lora-full": make_adapter(1.41, "H100-SXM", 12)}
    return scores, adapters


def build_demo_dashboard(bench, profile: str = "smoke") -> dict:
    from baseweight_assets.report.dashboard import build_dashboard
    from baseweight_assets.report.summary import summarize_task
    summaries = {}
    for task, windows in (("banking77", 1), ("cuad", 6)):
        scores, adapters = task_inputs(task, windows)
        summaries[task] = summarize_task(bench.tasks[task], scores, adapters, bench, n_resamples=200, seed=0)
    provenance = {"tasks": {"banking77": {"source": "offline", "dataset": "PolyAI/banking77", "revision": None,
                                          "partial": None, "prompt_hash": "11" * 32},
                            "cuad": {"source": "offline", "dataset": "cuad", "revision": None,
                                     "partial": bench.tasks["cuad"].source.offline.partial,
                                     "prompt_hash": "22" * 32}}}
    return build_dashboard(bench, summaries, profile=profile, generated_at="2026-11-28T04:00:00Z",
                           package_version="0.1.0", provenance=provenance)
