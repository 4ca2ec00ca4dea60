"""benchmarks/report_build.py builds its timing input in the shapes the report code takes today: every variant the
full profile derives (lora-N conditions, three training seeds) goes through summarize_task and a schema-valid
dashboard, so the benchmark cannot silently drift from the code it times (it did once: the old ``model__lora``)."""

import importlib.util
import random
from pathlib import Path

from baseweight_assets.conditions import PROMPTED, is_lora
from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.report.dashboard import build_dashboard
from baseweight_assets.report.summary import summarize_task
from baseweight_assets.variants import all_variants, split_variant

REPO = Path(__file__).resolve().parents[2]
TASK = "banking77"


def _benchmark():
    spec = importlib.util.spec_from_file_location("report_build", REPO / "benchmarks" / "report_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_inputs_go_through_the_current_report_code():
    bench = load_bench_config(REPO / "configs")
    scores, adapters = _benchmark().task_inputs(bench, TASK, "full", 40, 20, random.Random(0))
    assert set(scores) == set(all_variants(bench, "full"))
    loras = [v for v in scores if is_lora(split_variant(v)[1])]
    assert set(adapters) == set(loras) and loras
    seeds = bench.training_seeds("full")
    assert all(len(adapters[v]["adapters"]) == seeds and len(scores[v]["per_seed"]) == seeds for v in loras)

    summary = summarize_task(bench.tasks[TASK], scores, adapters, bench, n_resamples=20, seed=0)
    assert all(c["status"] == "ok" for c in summary["cells"].values())
    assert all(summary["cells"][v]["metric"]["n_seeds"] == seeds for v in loras)
    open_models = sorted({split_variant(v)[0] for v in loras})
    apis = [v for v in scores if bench.models[split_variant(v)[0]].kind == "api"]
    # shown: each open model's best LoRA vs its two prompted cells, the task's best LoRA vs every API cell
    assert len(summary["comparisons"]) == len(open_models) * len(PROMPTED) + len(apis)
    # tested: every LoRA x API pair, and every LoRA cell of a model against each of its prompted cells
    assert len(summary["comparison_stats"]["pairs"]) == len(loras) * len(apis) + len(loras) * len(PROMPTED)
    assert sorted(summary["curves"]) == open_models
    assert all(c["status"] == "ok" for c in summary["curves"].values())

    dash = build_dashboard(bench, {TASK: summary}, profile="full", generated_at="2026-01-01T00:00:00Z",
                           package_version="bench", provenance={"tasks": {}})  # validates against the schema
    assert sorted(dash["tasks"][TASK]["cells"]) == sorted(scores)
