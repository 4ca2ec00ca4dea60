"""The dashboard JSON against its versioned JSON Schema, and the flags it must carry."""

import copy
import json

import jsonschema
import pytest

from report_fixtures import make_scores
from baseweight_assets.report.dashboard import (
    SCHEMA_PATH, SCHEMA_VERSION, DashboardSchemaError, build_dashboard, validate_dashboard)
from baseweight_assets.report.summary import summarize_task


def test_schema_file_is_a_valid_versioned_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert SCHEMA_VERSION in schema["$id"]


def test_dashboard_validates_and_is_strict_json(dashboard):
    validate_dashboard(dashboard)
    json.dumps(dashboard, allow_nan=False)
    cell = dashboard["tasks"]["banking77"]["cells"]["qwen3-8b__lora-full"]
    for key in ("metric", "secondary", "error_counts", "latency", "tokens", "cost", "break_even", "training"):
        assert key in cell
    assert dashboard["provenance"]["models"]["qwen3-8b"]["revision"].startswith("b968826d")
    assert dashboard["tasks"]["cuad"]["provenance"]["prompt_hash"] == "22" * 32
    assert dashboard["pricing"]["api"]["gpt-5.4-mini"]["input_per_1m"] == 0.75


@pytest.mark.parametrize("path,expect", [
    (("tasks", "banking77", "cells", "qwen3-8b__lora-full", "metric"), "metric"),
    (("tasks", "cuad", "tco_curves"), "tco_curves"),
    (("flags", "messages"), "messages"),
])
def test_missing_required_key_names_the_path(dashboard, path, expect):
    broken = copy.deepcopy(dashboard)
    node = broken
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(DashboardSchemaError, match=rf"\$\.{'.'.join(path[:-1])}.*'{expect}'"):
        validate_dashboard(broken)


def test_wrong_type_is_rejected(dashboard):
    broken = copy.deepcopy(dashboard)
    broken["tasks"]["banking77"]["cells"]["qwen3-8b__lora-full"]["cost"]["by_scenario"]["mid"]["per_query"] = "cheap"
    with pytest.raises(DashboardSchemaError, match="per_query"):
        validate_dashboard(broken)
    broken = copy.deepcopy(dashboard)
    broken["schema_version"] = "0.9.0"
    with pytest.raises(DashboardSchemaError, match="schema_version"):
        validate_dashboard(broken)


def test_flags_smoke_partial_and_stand_in(dashboard):
    f = dashboard["flags"]
    assert f["smoke"] and f["any"] and f["partial_data"] == ["cuad"]
    assert f["stand_in"] == ["banking77|gpt-5.4-nano__zero-shot", "cuad|gpt-5.4-nano__zero-shot"]
    assert f["incomplete"] == ["banking77|gpt-5.4-nano__5-shot", "cuad|gpt-5.4-nano__5-shot"]
    cells = dashboard["tasks"]["cuad"]["cells"]
    assert cells["gpt-5.4-nano__zero-shot"]["flags"] == ["partial_data", "smoke", "stand_in"]
    assert cells["gpt-5.4-nano__5-shot"]["flags"] == ["incomplete", "partial_data", "smoke"]
    assert cells["qwen3-8b__lora-full"]["flags"] == ["partial_data", "smoke"]
    assert dashboard["tasks"]["banking77"]["cells"]["qwen3-8b__lora-full"]["flags"] == ["smoke"]


def test_clean_full_run_has_no_flags_and_nan_becomes_null(bench):
    scores = {"qwen3-8b__zero-shot": make_scores("banking77", "qwen3-8b__zero-shot", 0.6, hardware="H100-SXM"),
              "gpt-5.4-mini__zero-shot": make_scores("banking77", "gpt-5.4-mini__zero-shot", 0.8, hardware=None)}
    scores["qwen3-8b__zero-shot"]["seed_std"] = float("nan")
    summary = summarize_task(bench.tasks["banking77"], scores, {}, bench, n_resamples=200, seed=0)
    d = build_dashboard(bench, {"banking77": summary}, profile="full", generated_at="2026-11-28T00:00:00Z",
                        package_version="0.1.0", provenance={"tasks": {"banking77": {"partial": None}}})
    assert d["flags"] == {"smoke": False, "partial_data": [], "stand_in": [], "incomplete": [], "any": False,
                          "messages": []}
    assert d["tasks"]["banking77"]["cells"]["qwen3-8b__zero-shot"]["metric"]["seed_std"] is None
    assert d["cross_task"]["n_tasks_compared"] == 0  # no LoRA cell: nothing to compare
    assert summary["cells"]["qwen3-8b__zero-shot"]["metric"]["seed_std"] is None


def test_cross_task_summary(dashboard):
    rows = {r["task"]: r for r in dashboard["cross_task"]["rows"]}
    b = rows["banking77"]
    cells = dashboard["tasks"]["banking77"]["cells"]
    assert b["best_lora"] == "qwen3-8b__lora-full" and b["best_api"] == "gpt-5.4-mini__zero-shot"
    assert b["lora_minus_api"] == pytest.approx(cells[b["best_lora"]]["metric"]["value"]
                                                - cells[b["best_api"]]["metric"]["value"])
    assert dashboard["cross_task"]["n_tasks_compared"] == 3
    wins = sum(r["lora_minus_api"] > 0 for r in rows.values())
    assert dashboard["cross_task"]["lora_better_than_best_api"] == wins
    # the p shown is the best pair's, corrected for picking it among every LoRA x API pair of the task
    cmp = next(c for c in dashboard["tasks"]["banking77"]["comparisons"]
               if (c["a"], c["b"]) == (b["best_lora"], b["best_api"]))
    assert b["p_selection"] == cmp["p_selection"] and b["selection_m"] == 20 and b["p_value"] == cmp["p_value"]
    significant = sum(r["lora_minus_api"] > 0 and r["p_selection"] < 0.05 for r in rows.values())
    assert dashboard["cross_task"]["lora_significantly_better"] == significant
    assert "not corrected across tasks" in dashboard["cross_task"]["rule"]
