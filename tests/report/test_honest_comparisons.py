"""Failures are not answers; comparisons corrected for multiplicity and for choosing the best cells on the test set;
seed-aware CIs; self-hosted cost at saturated throughput."""

import pytest

from report_fixtures import (
    N_RESAMPLES, REVOKED, make_scores, question_ids, revoked_key_scores, task_inputs)
from baseweight_assets.curves.seeds import seeded_paired
from baseweight_assets.report.dashboard import build_dashboard, validate_dashboard
from baseweight_assets.report.summary import summarize_task
from baseweight_assets.scoring.stats import compare_cells, holm, metric_factory

NANO5, MINI0, NANO0 = "gpt-5.4-nano__5-shot", "gpt-5.4-mini__zero-shot", "gpt-5.4-nano__zero-shot"


def _summarize(bench, scores, adapters, task="banking77"):
    return summarize_task(bench.tasks[task], scores, adapters, bench, n_resamples=N_RESAMPLES, seed=0)


def _dashboard(bench, summary, task="banking77"):
    return build_dashboard(bench, {task: summary}, profile="full", generated_at="2026-11-28T00:00:00Z",
                           package_version="0.1.0", provenance={"tasks": {task: {"partial": None}}})


def _everything_compared(summary: dict) -> set[str]:
    """Every variant that appears in a comparison, a Pareto front, a TCO curve, a break-even or a curve."""
    seen = {k for front in summary["pareto"].values() for k in front}
    seen |= {k for curves in summary["tco_curves"]["by_scenario"].values() for k in curves}
    seen |= {api for c in summary["cells"].values() for api in (c.get("break_even") or {})}
    seen |= {k for c in summary["comparisons"] for k in (c["a"], c["b"])}
    seen |= {k for p in summary["comparison_stats"]["pairs"] for k in (p["a"], p["b"])}
    for curve in summary["curves"].values():
        seen |= set(curve.get("api") or {}) | {p["variant"] for p in curve.get("points") or []}
    return seen


def test_revoked_key_api_cell_never_reaches_a_headline(bench):
    scores, adapters = task_inputs("banking77")
    scores[NANO5] = revoked_key_scores("banking77", NANO5)
    summary = _summarize(bench, scores, adapters)
    cell = summary["cells"][NANO5]
    assert cell["status"] == "incomplete" and cell["metric"]["value"] is None and cell["correct_share"] is None
    assert "120 of 120 sampled questions missing (100.0%, threshold 2.0%)" in cell["reason"] and REVOKED in cell["reason"]
    assert "no scored question" in cell["cost"]["error"] and cell["cost"]["by_scenario"] == {}
    assert NANO5 not in _everything_compared(summary)
    assert summary["order"][-2:] == [NANO5, "gpt-5.4-mini__5-shot"]  # incomplete after scored, before skipped
    dash = _dashboard(bench, summary)
    assert dash["flags"]["incomplete"] == [f"banking77|{NANO5}"] and dash["flags"]["any"]
    assert any("incomplete" in m and NANO5 in m for m in dash["flags"]["messages"])
    assert dash["tasks"]["banking77"]["cells"][NANO5]["flags"] == ["incomplete"]
    row = dash["cross_task"]["rows"][0]
    assert row["best_api"] == MINI0 and row["incomplete"] == [NANO5]
    assert NANO5 not in {row["best"], row["best_lora"], row["best_api"]}


def _prepared(n: int = 120) -> dict:
    """A banking77-like test pool whose gold labels are the fixtures' (so scored rows pair with their cells)."""
    ids = question_ids("banking77", n)
    pool = [{"id": q, "question_id": q, "gold": "card_arrival" if i % 2 else "top_up", "fields": {}, "meta": {}}
            for i, q in enumerate(ids)]
    return {"splits": {"test_pool": pool}, "test_seeds": [ids], "labels": ["card_arrival", "top_up", "cash_withdrawal"]}


def _run(n_requests: int) -> dict:
    return {"wall_s": 3.0, "throughput_qps": 4.0, "saturated_qps": None, "latency_p50_s": 0.3, "latency_p95_s": 0.5,
            "ttft_p50_s": 0.1, "latency_n": 3, "hardware": None, "served_by": "openai", "stand_in": False,
            "spend_usd": 0.0, "total_input_tokens": 310 * n_requests, "total_output_tokens": 8 * n_requests,
            "total_cached_input_tokens": 0, "n_requests": n_requests}


def test_revoked_key_scored_by_score_predictions_reaches_no_headline(bench):
    from baseweight_assets.scoring.score import score_predictions
    prepared = _prepared()
    rows = [{"id": q, "question_id": q, "output": "", "error": REVOKED} for q in question_ids("banking77", 120)]
    revoked = score_predictions(bench.tasks["banking77"], prepared, rows, labels=prepared["labels"],
                                n_bootstrap=N_RESAMPLES)
    scores, adapters = task_inputs("banking77")
    scores[NANO5] = revoked | {"status": "ok", "reason": None, "run": _run(120)}
    summary = _summarize(bench, scores, adapters)
    cell = summary["cells"][NANO5]
    assert cell["status"] == "incomplete" and cell["metric"]["value"] is None and REVOKED in cell["reason"]
    assert cell["error_counts"]["missing"] == 120 and cell["completeness"]["missing_share"] == 1.0
    assert NANO5 not in _everything_compared(summary)
    row = _dashboard(bench, summary)["cross_task"]["rows"][0]
    assert row["best_api"] == MINI0 and row["incomplete"] == [NANO5]


def test_seed_missing_answers_through_score_cell_names_that_seed(bench):
    from baseweight_assets.scoring.seeded import score_cell
    prepared = _prepared()
    ids = question_ids("banking77", 120)
    gold = {ex["question_id"]: ex["gold"] for ex in prepared["splits"]["test_pool"]}
    rows = [{"id": f"{q}-s{s}", "question_id": q, "seed": s, "output": gold[q], "finish_reason": "stop",
             "error": "HTTP 500: retries exhausted" if s == 1 and i < 9 else None}
            for s in (0, 1, 2) for i, q in enumerate(ids)]
    cell_scores = score_cell(bench.tasks["banking77"], prepared, rows, labels=prepared["labels"], n_bootstrap=N_RESAMPLES)
    assert cell_scores["completeness"]["complete"] is False and cell_scores["completeness"]["n_missing"] == 0  # seed 0's
    scores, adapters = task_inputs("banking77")
    scores["qwen3-8b__lora-500"] = cell_scores | {"status": "ok", "reason": None,
                                                  "run": _run(360) | {"hardware": "H100-SXM", "saturated_qps": 17.0}}
    summary = _summarize(bench, scores, adapters)
    cell = summary["cells"]["qwen3-8b__lora-500"]
    assert cell["status"] == "incomplete"
    assert cell["reason"] == "training seed 1: 9 of 120 sampled questions missing (7.5%, threshold 2.0%), e.g. HTTP 500: retries exhausted"
    assert cell["completeness"]["n_missing"] == 9 and cell["completeness"]["complete"] is False
    assert cell["metric"]["n_seeds"] == 3
    assert "qwen3-8b__lora-500" not in _everything_compared(summary)  # nor a measured curve point
    assert 500 in {p["n"] for p in summary["curves"]["qwen3-8b"]["skipped"]}


def test_an_incomplete_cell_is_not_compared_even_when_its_scored_part_looks_best(bench):
    scores, adapters = task_inputs("banking77")
    # half the questions failed; the half that was scored is nearly all right: it would top every table
    scores[NANO5] = make_scores("banking77", NANO5, 0.99, missing=60, hardware=None)
    summary = _summarize(bench, scores, adapters)
    cell = summary["cells"][NANO5]
    assert cell["status"] == "incomplete" and cell["metric"]["value"] > 0.95
    assert cell["completeness"]["missing_share"] == 0.5 and "60 of 120" in cell["reason"]
    assert cell["cost"]["by_scenario"]["mid"]["per_query"] > 0  # what was measured is still shown
    assert NANO5 not in _everything_compared(summary)
    row = _dashboard(bench, summary)["cross_task"]["rows"][0]
    assert row["best_api"] == MINI0 and row["best"] != NANO5


def test_scoring_status_or_an_incomplete_training_seed_makes_the_cell_incomplete(bench):
    scores, adapters = task_inputs("banking77")
    flagged = make_scores("banking77", "qwen3-8b__5-shot", 0.7, hardware="H100-SXM")
    flagged |= {"status": "incomplete", "reason": "circuit breaker open"}
    seeded = scores["smollm2-135m__lora-full"]
    seeded["per_seed"][2]["completeness"] = dict(seeded["per_seed"][2]["completeness"], complete=False, n_missing=9,
                                                 missing_share=0.075)
    scores["qwen3-8b__5-shot"] = flagged
    cells = _summarize(bench, scores, adapters)["cells"]
    assert cells["qwen3-8b__5-shot"]["status"] == "incomplete" and "circuit breaker" in cells["qwen3-8b__5-shot"]["reason"]
    lora = cells["smollm2-135m__lora-full"]
    assert lora["status"] == "incomplete" and lora["reason"].startswith("training seed 2: 9 of 120")


def test_table_rows_are_holm_corrected_and_each_row_inside_its_selection_family(bench):
    scores, adapters = task_inputs("banking77")
    scores[NANO5] = revoked_key_scores("banking77", NANO5)
    summary = _summarize(bench, scores, adapters)
    task, rows = bench.tasks["banking77"], summary["comparisons"]

    def p(a, b):
        return compare_cells(task, scores[a], scores[b], n_resamples=N_RESAMPLES, seed=0)["p_value"]

    raw = [p(r["a"], r["b"]) for r in rows]
    assert [r["p_value"] for r in rows] == raw
    assert [r["p_holm"] for r in rows] == holm(raw)
    assert summary["comparison_stats"]["m"] == len(rows) == 5
    # best LoRA vs each API: inside every LoRA cell x every complete API cell (10 x 2; the revoked one is not a pair)
    loras = sorted(k for k in scores if "__lora-" in k)
    family = [(a, b) for a in loras for b in (MINI0, NANO0)]
    adjusted = dict(zip(family, holm([p(a, b) for a, b in family])))
    for r in (r for r in rows if r["kind"] == "lora_vs_api"):
        assert r["p_selection"] == pytest.approx(adjusted[(r["a"], r["b"])]) and r["selection_m"] == 20
        # permutation tests at 200 resamples: no p below 2/201, so 20 pairs cannot adjust below 40/201
        assert r["selection_p_floor"] == pytest.approx(40 / 201) and r["p_selection"] >= r["selection_p_floor"]
    # best SmolLM2 LoRA vs its 5-shot: inside its five LoRA cells against the 5-shot cell
    row = next(r for r in rows if r["kind"] == "lora_vs_5-shot")
    family = [(a, "smollm2-135m__5-shot") for a in loras if a.startswith("smollm2")]
    assert row["p_selection"] == pytest.approx(dict(zip(family, holm([p(*f) for f in family])))[(row["a"], row["b"])])
    assert row["selection_m"] == 5 and row["p_selection"] >= row["p_value"]


def test_multi_seed_rows_take_ci_over_seeds_and_p_from_seed_zero(bench):
    scores, adapters = task_inputs("banking77")
    rows = _summarize(bench, scores, adapters)["comparisons"]
    row = next(r for r in rows if r["a"] == "smollm2-135m__lora-full" and r["kind"] == "lora_vs_5-shot")
    lora, other = scores["smollm2-135m__lora-full"], scores["smollm2-135m__5-shot"]
    want = seeded_paired([s["per_example"] for s in lora["per_seed"]], other["per_example"],
                         metric_factory("weighted_f1"), N_RESAMPLES, 0, name=row["a"], other_name=row["b"])
    seed0 = compare_cells(bench.tasks["banking77"], lora, other, n_resamples=N_RESAMPLES, seed=0)
    paired = row["paired"]
    assert (paired["diff"], paired["ci_lo"], paired["ci_hi"]) == (want["diff"], want["ci_lo"], want["ci_hi"])
    assert paired["p_value"] == seed0["p_value"] and paired["seed0"]["ci_lo"] == seed0["ci_lo"]
    assert paired["ci_method"] == "seeded_paired" and paired["n_seeds"] == 3 and "seed 0" in paired["p_note"]
    assert paired["variance"]["seeds"] == pytest.approx(want["variance"]["seeds"])
    single = next(r for r in rows if r["a"] == "qwen3-8b__lora-full")
    assert single["paired"]["ci_method"] == "paired_cluster_bootstrap" and single["paired"]["p_note"] is None


def test_tests_follow_the_metric_and_clusters(bench):
    from report_fixtures import code_task_inputs
    cuad = _summarize(bench, *task_inputs("cuad", windows=6), task="cuad")
    for r in cuad["comparisons"]:  # 120 questions about 20 contracts: clustered permutation test
        assert r["paired"]["test"] == "paired_permutation" and r["paired"]["n_clusters"] == 20
    mbpp = _summarize(bench, *code_task_inputs(), task="mbpp")
    assert {r["paired"]["test"] for r in mbpp["comparisons"]} == {"mcnemar"}  # pass@1, one question per cluster
    assert all(r["selection_p_floor"] is None for r in mbpp["comparisons"])  # McNemar has no resampling floor
    cell = mbpp["cells"]["smollm2-135m__lora-full"]
    assert cell["sandbox"] == {"backend": "bubblewrap+cgroup-v1", "memory_bound_mb": 512.0, "unsealed_tests": 0}
    assert mbpp["error_categories"] == ["missing", "truncated", "syntax_error", "runtime_error", "timeout",
                                        "wrong_answer", "pass"]


def test_cell_shows_training_seeds_variance_and_one_sample(bench):
    scores, adapters = task_inputs("banking77")
    scores["qwen3-8b__zero-shot"] |= {"seed_values": [0.7], "seed_std": None, "seed_note": "one sample"}
    cells = _summarize(bench, scores, adapters)["cells"]
    m = cells["smollm2-135m__lora-full"]["metric"]
    variance = scores["smollm2-135m__lora-full"]["seed_variance"]
    assert m["n_seeds"] == 3 and [s["seed"] for s in m["training_seeds"]] == [0, 1, 2]
    assert m["variance"]["examples"] == variance["examples"] and m["variance"]["seeds"] == variance["seeds"]
    assert m["value"] == scores["smollm2-135m__lora-full"]["metric"]  # the seed-aware metric, not seed 0's
    one = cells["qwen3-8b__zero-shot"]["metric"]
    assert one["seed_note"] == "one sample" and one["seed_std"] is None and one["n_seeds"] == 1


def test_self_hosted_cost_uses_saturated_throughput_never_the_probe(bench):
    scores, adapters = task_inputs("banking77")
    cell = make_scores("banking77", "qwen3-8b__5-shot", 0.7, hardware="H100-SXM", qps=2.0)
    # the probe answered one request at a time (2 s each), the whole call ran at 2 q/s, full batches at 10 q/s
    cell["run"] |= {"saturated_qps": 10.0, "latency_p50_s": 2.0, "throughput_qps": 2.0}
    old = make_scores("banking77", "phi-4-mini__5-shot", 0.7, hardware="H100-SXM", qps=4.0)
    old["run"].pop("saturated_qps")
    scores |= {"qwen3-8b__5-shot": cell, "phi-4-mini__5-shot": old}
    cells = _summarize(bench, scores, adapters)["cells"]
    cost = cells["qwen3-8b__5-shot"]["cost"]
    # H100-SXM mid $3.85/h at 10 q/s
    assert cost["qps"] == 10.0 and cost["qps_source"] == "saturated_qps"
    assert cost["by_scenario"]["mid"]["per_query"] == pytest.approx(3.85 / 3600 / 10)
    fallback = cells["phi-4-mini__5-shot"]["cost"]
    assert fallback["qps"] == 4.0 and fallback["qps_source"] == "throughput_qps" and "no saturated_qps" in fallback["note"]
    assert cells["qwen3-8b__5-shot"]["latency"]["saturated_qps"] == 10.0
    assert cells["qwen3-8b__5-shot"]["latency"]["latency_n"] == 8


def test_dashboard_with_an_incomplete_cell_validates(bench):
    scores, adapters = task_inputs("banking77")
    scores[NANO5] = revoked_key_scores("banking77", NANO5)
    validate_dashboard(_dashboard(bench, _summarize(bench, scores, adapters)))
