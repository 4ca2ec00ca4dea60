"""The data-efficiency curves: assembled from the cells, the adapters and the configs, carried in the dashboard's
versioned ``curves`` section, exported, and their verdicts rewritten under the dashboard's flags."""

import copy
import csv

import pytest

from report_fixtures import N_RESAMPLES, make_scores, task_inputs
from baseweight_assets.curves.build import build_curve
from baseweight_assets.report import curve_inputs
from baseweight_assets.report.dashboard import DashboardSchemaError, build_dashboard, validate_dashboard
from baseweight_assets.report.summary import VOLUME_GRID, summarize_task
from baseweight_assets.report.tables import export_tables

SMOL = "smollm2-135m"
MINI_PER_REQUEST = 210 * 0.75e-6 + 100 * 0.075e-6 + 8 * 4.5e-6
NANO_PER_REQUEST = 310 * 0.20e-6 + 8 * 1.25e-6


def _summary(bench, scores, adapters):
    return summarize_task(bench.tasks["banking77"], scores, adapters, bench, n_resamples=N_RESAMPLES, seed=0)


def test_curve_is_build_curve_on_the_cells_adapters_and_prices(bench):
    scores, adapters = task_inputs("banking77")
    curve = _summary(bench, scores, adapters)["curves"][SMOL]
    sizes = [(50, 50), (100, 100), (250, 250), (500, 500), ("full", 1000)]  # lora-full: its adapter's n_train
    points = [{"n": n, "variant": f"{SMOL}__lora-{size}", "status": "ok", "reason": None,
               "per_seed": [s["per_example"] for s in scores[f"{SMOL}__lora-{size}"]["per_seed"]],
               "gpu_hours": [r["metadata"]["gpu_hours"] for r in adapters[f"{SMOL}__lora-{size}"]["adapters"]]}
              for size, n in sizes]
    apis = {"gpt-5.4-mini__zero-shot": {"per_example": scores["gpt-5.4-mini__zero-shot"]["per_example"],
                                        "display_name": "GPT-5.4 Mini (zero-shot)", "stand_in": False,
                                        "cost_per_query": MINI_PER_REQUEST},
            "gpt-5.4-nano__zero-shot": {"per_example": scores["gpt-5.4-nano__zero-shot"]["per_example"],
                                        "display_name": "GPT-5.4 Nano (zero-shot)", "stand_in": True,
                                        "cost_per_query": NANO_PER_REQUEST}}
    cpu2 = {"low": 0.03, "mid": 0.05, "high": 0.10}  # cpu-2core: 2 vCPUs x cpu_per_vcpu
    costs = {"label_cost_per_example": 0.10, "label_cost_source": bench.pricing.labelling.tasks["banking77"].source,
             "training_hourly_rates": cpu2, "serving_hourly_rates": cpu2, "serving_qps": 3.0,
             "utilisation_target": bench.pricing.utilisation_target, "trainings_per_year": 4}
    config = {"margin": 0.02, "volumes": VOLUME_GRID, "n_resamples": N_RESAMPLES, "seed": 0, "scenario": "mid",
              "model_name": "SmolLM2-135M-Instruct", "metric_label": "Weighted F1"}
    for key, api in apis.items():  # hand-computed above; the curve must be built on the same float
        assert curve["api"][key]["cost_per_query"] == pytest.approx(api["cost_per_query"])
        api["cost_per_query"] = curve["api"][key]["cost_per_query"]
    want = build_curve("weighted_f1", points, apis, costs, config)
    assert {k: curve[k] for k in want} == want
    assert [p["n"] for p in curve["points"]] == [50, 100, 250, 500, 1000]
    assert curve["costs"]["per_point"][0]["labelling_usd"] == pytest.approx(5.0)  # 50 x $0.10
    assert curve["serving_from"] == f"{SMOL}__lora-full" and curve["training_hardware"] == "cpu-2core"
    assert curve["model"] == SMOL and curve["display_name"] == "SmolLM2-135M-Instruct"
    assert curve["points"][0]["n_seeds"] == 3 and curve["points"][0]["variance"]["seeds"] is not None


def test_duplicate_full_size_incomplete_and_skipped_points(bench):
    scores, adapters = task_inputs("banking77")
    adapters[f"{SMOL}__lora-full"]["n_train"] = 500  # every training row is 500: lora-full is lora-500
    scores[f"{SMOL}__lora-100"] = make_scores("banking77", f"{SMOL}__lora-100", 0.5, qps=3.0, missing=30)
    scores[f"{SMOL}__lora-1000"] = {"status": "skipped", "reason": "N=1000 needs 1000 training rows, 500 exist"}
    curve = _summary(bench, scores, adapters)["curves"][SMOL]
    assert [p["n"] for p in curve["points"]] == [50, 250, 500]
    assert curve["not_plotted"] == [{"variant": f"{SMOL}__lora-full",
                                     "reason": "lora-full trained on 500 rows, the same N as lora-500: shown once"}]
    skipped = {s["n"]: s["reason"] for s in curve["skipped"]}
    assert "30 of 120 sampled questions missing" in skipped[100] and "500 exist" in skipped[1000]
    assert "gpt-5.4-nano__5-shot" not in curve["api"]


def test_a_curve_that_cannot_be_built_is_recorded_not_raised(bench, monkeypatch):
    def boom(*a, **k):
        raise ValueError("two points have N=50")
    monkeypatch.setattr(curve_inputs, "build_curve", boom)
    summary = _summary(bench, *task_inputs("banking77"))
    curve = summary["curves"][SMOL]
    assert curve["status"] == "error" and "two points have N=50" in curve["reason"]
    assert summary["comparisons"]  # the rest of the summary is there
    dash = build_dashboard(bench, {"banking77": summary}, profile="full", generated_at="2026-11-28T00:00:00Z",
                           package_version="0.1.0", provenance={"tasks": {"banking77": {"partial": None}}})
    assert dash["curves"]["by_task"]["banking77"][SMOL]["verdict"].startswith(
        "No data-efficiency verdict: build_curve failed: ValueError: two points have N=50")


def test_curves_section_and_verdicts_under_the_dashboard_flags(bench, dashboard):
    section = dashboard["curves"]
    assert section["curves_version"] == 1 and section["margin"] == bench.run.noninferiority_margin
    assert set(section["by_task"]) == {"banking77", "cuad", "mbpp"} and "curves" not in dashboard["tasks"]["cuad"]
    qwen = section["by_task"]["banking77"]["qwen3-8b"]
    assert qwen["verdict"].startswith("Smoke run (a plumbing check, not a result): with ≥ ")
    assert "partial data: Offline copy is the raw CUAD" in section["by_task"]["cuad"]["qwen3-8b"]["verdict"]
    rows = {r["task"]: r for r in dashboard["cross_task"]["rows"]}
    assert [v["verdict"] for v in rows["banking77"]["verdicts"]] == [
        section["by_task"]["banking77"][m]["verdict"] for m in ("qwen3-8b", SMOL)]
    assert rows["banking77"]["verdicts"][0]["n_star"] == qwen["n_star"]["value"]


def test_verdict_rewritten_without_flags_is_build_curves_own(bench):
    summary = _summary(bench, *task_inputs("banking77"))
    for curve in summary["curves"].values():
        assert curve_inputs.curve_verdict(curve, smoke=False, partial=None, scenario="mid",
                                          min_volume=VOLUME_GRID[0]) == curve["verdict"]


def test_exports_include_the_curves(dashboard, tmp_path):
    paths = export_tables(dashboard, tmp_path)
    curves = [(t, m, c) for t, by in dashboard["curves"]["by_task"].items() for m, c in by.items()]
    rows = list(csv.DictReader(paths["curves.csv"].open()))
    assert len(rows) == sum(len(c["points"]) for _, _, c in curves)
    qwen = dashboard["curves"]["by_task"]["banking77"]["qwen3-8b"]
    row = next(r for r in rows if r["task"] == "banking77" and r["model"] == "qwen3-8b" and r["n"] == "250")
    point = next(p for p in qwen["points"] if p["n"] == 250)
    assert float(row["metric"]) == pytest.approx(point["metric"]) and float(row["ci_lo"]) == pytest.approx(point["ci_lo"])
    assert float(row["residual"]) == pytest.approx(qwen["fit"]["residuals"][2])
    assert float(row["labelling_usd"]) == pytest.approx(25.0)  # 250 x $0.10
    verdicts = list(csv.DictReader(paths["verdicts.csv"].open()))
    assert [(v["task"], v["model"]) for v in verdicts] == [(t, m) for t, m, _ in curves]
    assert float(verdicts[0]["n_star"]) == pytest.approx(qwen["n_star"]["value"])
    surface = list(csv.DictReader(paths["surface.csv"].open()))
    assert {r["scenario"] for r in surface} == {"low", "mid", "high"}
    md = paths["results.md"].read_text()
    assert "## Verdicts" in md and "## Data-efficiency curves" in md and "Holm" in md
    assert qwen["verdict"].replace("|", "\\|")[:80] in md


def test_schema_requires_the_versioned_curves_section(dashboard):
    broken = copy.deepcopy(dashboard)
    broken["curves"]["curves_version"] = 2
    with pytest.raises(DashboardSchemaError, match=r"\$\.curves\.curves_version"):
        validate_dashboard(broken)
    broken = copy.deepcopy(dashboard)
    del broken["curves"]["by_task"]["banking77"]["qwen3-8b"]["n_star"]
    with pytest.raises(DashboardSchemaError, match=r"\$\.curves\.by_task\.banking77\.qwen3-8b.*'n_star'"):
        validate_dashboard(broken)
    broken = copy.deepcopy(dashboard)
    del broken["curves"]
    with pytest.raises(DashboardSchemaError, match="'curves' is a required property"):
        validate_dashboard(broken)
