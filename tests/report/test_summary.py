"""summarize_task: cells, hand-computed cost figures, break-even, Pareto front, comparisons, bad input."""

import pytest

from report_fixtures import N_RESAMPLES, make_scores, task_inputs
from baseweight_assets.cost.break_even import break_even_volume
from baseweight_assets.report.summary import summarize_task

# gpt-5.4-mini: 310 input tokens per request of which 100 cached ($0.075/1M), 8 output; $0.75 / $4.50 per 1M
MINI_PER_REQUEST = 210 * 0.75e-6 + 100 * 0.075e-6 + 8 * 4.5e-6


def _summary(bench, task="banking77", windows=1, scores=None, adapters=None):
    s, a = task_inputs(task, windows)
    s.update(scores or {})
    a.update(adapters or {})
    return summarize_task(bench.tasks[task], s, a, bench, n_resamples=N_RESAMPLES, seed=0)


def test_self_hosted_and_api_costs_hand_computed(bench):
    cells = _summary(bench)["cells"]
    lora = cells["smollm2-135m__lora-full"]["cost"]
    # cpu-2core mid $0.05/h at 3 q/s: 0.05 / 3600 / 3 per query
    assert lora["basis"] == "self-hosted" and lora["hardware"] == "cpu-2core"
    assert lora["by_scenario"]["mid"]["per_query"] == pytest.approx(0.05 / 3600 / 3)
    # TCO at 10k/day: 1 always-on host x 0.05 x 8760 = 438 + training 0.05 h x 0.05 x 4 retrains = 0.01
    tco = lora["by_scenario"]["mid"]["tco_12mo"]
    assert tco["gpus"] == 1 and tco["total"] == pytest.approx(438.01)
    assert lora["by_scenario"]["high"]["tco_12mo"]["total"] == pytest.approx(0.10 * 8760 + 0.05 * 0.10 * 4)
    api = cells["gpt-5.4-mini__zero-shot"]
    # cached input tokens are charged the cached price (MINI_PER_REQUEST), not the list input price
    assert api["cost"]["basis"] == "api-list" and api["cost"]["cached_input_tokens"] == 100 * 120
    assert api["cost"]["by_scenario"]["low"]["per_query"] == pytest.approx(MINI_PER_REQUEST)
    share = api["correct_share"]
    assert api["cost"]["by_scenario"]["mid"]["per_1k_correct"] == pytest.approx(MINI_PER_REQUEST * 1000 / share)
    assert api["cost"]["by_scenario"]["mid"]["tco_12mo"]["total"] == pytest.approx(MINI_PER_REQUEST * 10_000 * 365)


def test_windowed_task_costs_per_question(bench):
    cells = _summary(bench, "cuad", windows=6)["cells"]
    # 6 window requests per question: tokens x6 per question, and 3 requests/s = 0.5 questions/s
    assert cells["gpt-5.4-mini__zero-shot"]["cost"]["by_scenario"]["mid"]["per_query"] == pytest.approx(
        6 * MINI_PER_REQUEST)
    assert cells["smollm2-135m__lora-full"]["cost"]["qps"] == pytest.approx(0.5)


def test_batch_api_discount_stand_in_and_missing_hardware(bench):
    extra = {"gpt-5.4-mini__5-shot": make_scores("banking77", "gpt-5.4-mini__5-shot", 0.8, served_by="openai-batch",
                                                 hardware=None),
             "qwen3-8b__5-shot": make_scores("banking77", "qwen3-8b__5-shot", 0.6, hardware=None, qps=10.0)}
    cells = _summary(bench, scores=extra)["cells"]
    batch = cells["gpt-5.4-mini__5-shot"]["cost"]
    assert batch["basis"] == "api-batch"
    assert batch["by_scenario"]["mid"]["per_query"] == pytest.approx(0.5 * (310 * 0.75e-6 + 8 * 4.5e-6))
    stand_in = cells["gpt-5.4-nano__zero-shot"]
    assert stand_in["stand_in"] and "stand-in" in stand_in["cost"]["note"]
    assumed = cells["qwen3-8b__5-shot"]["cost"]
    assert assumed["hardware"] == bench.pricing.default_hardware and "did not record" in assumed["note"]


def test_cost_problems_are_recorded_per_cell_not_raised(bench):
    bad = {"qwen3-8b__5-shot": make_scores("banking77", "qwen3-8b__5-shot", 0.6, hardware="TPU-v9"),
           "smollm2-135m__5-shot": make_scores("banking77", "smollm2-135m__5-shot", 0.5)}
    bad["smollm2-135m__5-shot"]["run"]["saturated_qps"] = 0.0
    cells = _summary(bench, scores=bad)["cells"]
    assert "TPU-v9" in cells["qwen3-8b__5-shot"]["cost"]["error"]
    assert "throughput" in cells["smollm2-135m__5-shot"]["cost"]["error"]
    assert cells["qwen3-8b__5-shot"]["metric"]["value"] is not None  # quality kept
    assert cells["smollm2-135m__lora-full"]["cost"]["error"] is None  # others unaffected


def test_skipped_cell_has_reason_and_no_numbers(bench):
    cell = _summary(bench)["cells"]["gpt-5.4-mini__5-shot"]
    assert cell["status"] == "skipped" and "context" in cell["reason"]
    assert "metric" not in cell and "cost" not in cell
    # a status the report does not know is shown as skipped with its reason, never as a result
    cell = _summary(bench, scores={"qwen3-8b__5-shot": {"status": "failed", "reason": "OOM"}})["cells"][
        "qwen3-8b__5-shot"]
    assert cell["status"] == "skipped" and cell["reason"] == "OOM"


def test_training_facts_and_loss_history(bench):
    t = _summary(bench)["cells"]["qwen3-8b__lora-full"]["training"]
    assert t["gpu_hours"] == 1.41 and t["hardware"] == "H100-SXM" and t["adapter_sha256"] == "ab" * 32
    assert t["cost_by_scenario"]["mid"]["once"] == pytest.approx(1.41 * 3.85)
    assert t["cost_by_scenario"]["mid"]["per_year"] == pytest.approx(1.41 * 3.85 * 4)
    assert len(t["loss_history"]) == 12 and {"step", "loss"} <= set(t["loss_history"][0])
    assert t["n_seeds"] == 1 and t["n_train"] == 2000


def test_training_cost_is_one_training_the_mean_over_seeds(bench):
    from report_fixtures import make_adapter
    # three seeds took 0.1, 0.2 and 0.3 h on an H100-SXM: one (re)training costs 0.2 h x $3.85 at mid
    adapter = make_adapter(0.2, "H100-SXM", n_seeds=3, hours_step=0.1, n_train=2000)
    t = _summary(bench, adapters={"qwen3-8b__lora-full": adapter})["cells"]["qwen3-8b__lora-full"]["training"]
    assert [s["gpu_hours"] for s in t["seeds"]] == pytest.approx([0.1, 0.2, 0.3])
    assert t["n_seeds"] == 3 and t["gpu_hours"] == pytest.approx(0.2)
    assert t["cost_by_scenario"]["mid"]["once"] == pytest.approx(0.2 * 3.85)
    assert t["gpu_hours_spent"] == pytest.approx(0.6)


def test_break_even_matches_cost_functions(bench):
    s = _summary(bench)
    lora, api = s["cells"]["qwen3-8b__lora-full"], s["cells"]["gpt-5.4-mini__zero-shot"]
    got = lora["break_even"]["gpt-5.4-mini__zero-shot"]["high"]
    want = break_even_volume(api["cost"]["by_scenario"]["high"]["per_query"], lora["cost"]["qps"], 6.57,
                             bench.pricing.utilisation_target, 1.41 * 6.57 * 4)
    assert got["daily_volume"] == pytest.approx(want["daily_volume"])
    low = lora["break_even"]["gpt-5.4-mini__zero-shot"]["low"]["daily_volume"]
    assert low < got["daily_volume"]  # cheaper GPUs break even sooner
    assert "gpt-5.4-mini__zero-shot" not in (api.get("break_even") or {})


def test_pareto_front_is_non_dominated(bench):
    s = _summary(bench)
    for scenario, front in s["pareto"].items():
        pts = {k: (c["metric"]["value"], c["cost"]["by_scenario"][scenario]["per_query"])
               for k, c in s["cells"].items() if c["status"] == "ok"}
        for k in front:
            m, c = pts[k]
            assert not any(m2 >= m and c2 <= c and (m2, c2) != (m, c) for m2, c2 in pts.values())
        # the 5-shot small model costs more and scores less than its LoRA: dominated
        assert "smollm2-135m__5-shot" not in front
        assert "smollm2-135m__lora-full" in front


def test_headline_comparisons_call_the_paired_test(bench, monkeypatch):
    s = _summary(bench)
    kinds = {(c["kind"], c["a"], c["b"]) for c in s["comparisons"]}
    assert kinds == {("lora_vs_5-shot", "smollm2-135m__lora-full", "smollm2-135m__5-shot"),
                     ("lora_vs_zero-shot", "smollm2-135m__lora-full", "smollm2-135m__zero-shot"),
                     ("lora_vs_zero-shot", "qwen3-8b__lora-full", "qwen3-8b__zero-shot"),
                     ("lora_vs_api", "qwen3-8b__lora-full", "gpt-5.4-mini__zero-shot"),
                     ("lora_vs_api", "qwen3-8b__lora-full", "gpt-5.4-nano__zero-shot")}  # mini 5-shot: skipped
    for c in s["comparisons"]:
        assert c["diff"] == pytest.approx(c["metric_a"] - c["metric_b"])
        assert "error" in c["paired"] or {"n", "diff", "ci_lo", "ci_hi", "p_value", "test", "mde"} <= set(c["paired"])

    import baseweight_assets.report.comparisons as comparisons

    def boom(*a, **k):
        raise RuntimeError("bad join")
    monkeypatch.setattr(comparisons, "compare_cells", boom)
    s = _summary(bench)
    assert all("bad join" in c["paired"]["error"] for c in s["comparisons"])
    assert all(c["p_holm"] is None and c["p_selection"] is None for c in s["comparisons"])


def test_malformed_scores_name_task_and_variant(bench):
    broken = make_scores("banking77", "qwen3-8b__5-shot", 0.5)
    del broken["metric"]
    with pytest.raises(ValueError, match=r"banking77.*qwen3-8b__5-shot.*metric"):
        _summary(bench, scores={"qwen3-8b__5-shot": broken})
    with pytest.raises(ValueError, match="unknown model 'llama-9'"):
        _summary(bench, scores={"llama-9__zero-shot": make_scores("banking77", "x", 0.5)})
    with pytest.raises(ValueError, match="<model>__<condition>"):
        _summary(bench, scores={"qwen3-8b-zero-shot": make_scores("banking77", "x", 0.5)})
