import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.scoring.score import missing_questions, score_predictions
from baseweight_assets.scoring.stats import compare_cells


def _task(task_type, metric, **extra):
    return TaskConfig(id="t", name="t", task_type=task_type, metric=metric, max_output_tokens=8,
                      source={"offline": {"loader": "csv", "dir": "x"}}, **extra)


def _prepared(golds, seeds, meta=None):
    pool = [{"id": q, "question_id": q, "gold": g, "fields": {}, "meta": (meta or {}).get(q, {})}
            for q, g in golds.items()]
    return {"splits": {"test_pool": pool}, "test_seeds": seeds, "labels": None}


def _row(q, output, **extra):
    return {"id": q, "question_id": q, "output": output, "error": None, **extra}


def test_classification_scores_union_of_seeds_and_matches_sklearn():
    golds = {f"q{i}": ["a", "b", "c"][i % 3] for i in range(30)}
    outputs = {q: (g if i % 4 else "b") for i, (q, g) in enumerate(golds.items())}
    outputs["q5"] = "I cannot answer that"
    outputs["q7"] = "something else"
    outputs["q11"] = "Not b."  # a negated label is invalid, not "b"
    rows = [_row(q, o) for q, o in outputs.items() if q != "q9"]
    seeds = [[f"q{i}" for i in range(20)], [f"q{i}" for i in range(10, 30)]]
    res = score_predictions(_task("classification", "macro_f1"), _prepared(golds, seeds), rows,
                            labels=["a", "b", "c"], n_bootstrap=200)
    scored = [q for q in golds if q != "q9"]  # q9 has no row: missing, not wrong
    gold = [golds[q] for q in scored]
    pred = [outputs[q] if q not in ("q5", "q7", "q11") else "__INVALID__" for q in scored]
    assert res["n"] == 29 and res["completeness"]["n_sampled"] == 30
    assert res["metric"] == pytest.approx(f1_score(gold, pred, labels=["a", "b", "c"], average="macro", zero_division=0))
    assert res["ci_lo"] <= res["metric"] <= res["ci_hi"]
    assert len(res["seed_values"]) == 2 and res["seed_std"] is not None and res["seed_note"] is None
    counts = res["error_counts"]
    assert counts["refusal"] == 1 and counts["format_violation"] == 2 and counts["missing"] == 1
    assert sum(counts.values()) == 30 and res["notes"]
    assert {"question_id", "correct", "category", "parsed", "cluster"} <= set(res["per_example"][0])
    assert "q9" not in {r["question_id"] for r in res["per_example"]}


def test_failed_requests_are_missing_not_wrong():
    golds = {f"q{i}": "a" if i % 2 else "b" for i in range(100)}
    rows = [_row(q, g) for q, g in golds.items()]
    for i in range(0, 10):  # ten failed requests, e.g. HTTP 429 after every retry
        rows[i] = {**rows[i], "output": "", "error": "HTTP 429: retries exhausted"}
    task, prepared = _task("classification", "accuracy"), _prepared(golds, [list(golds)])
    res = score_predictions(task, prepared, rows, labels=["a", "b"], n_bootstrap=100)
    assert res["metric"] == 1.0 and res["n"] == 90 and res["error_counts"]["missing"] == 10
    comp = res["completeness"]
    assert (comp["n_sampled"], comp["n_scored"], comp["n_missing"]) == (100, 90, 10)
    assert comp["missing_share"] == pytest.approx(0.1) and comp["threshold"] == 0.02 and comp["complete"] is False
    assert comp["missing_examples"][0] == {"question_id": "q0", "error": "HTTP 429: retries exhausted"}
    assert len(comp["missing_examples"]) == 5
    res = score_predictions(task, prepared, rows, labels=["a", "b"], n_bootstrap=100, incomplete_threshold=0.1)
    assert res["completeness"]["complete"] is True
    # the seed value and the comparisons see the 90 scored questions only
    assert res["seed_values"] == [1.0]
    other = score_predictions(task, prepared, [_row(q, "a") for q in golds], labels=["a", "b"], n_bootstrap=100)
    cmp = compare_cells(task, res, other, n_resamples=100)
    assert cmp["n"] == 90 and cmp["diff"] == pytest.approx(1.0 - 45 / 90)


def test_a_revoked_key_scores_nothing_instead_of_zero():
    golds = {f"q{i}": "a" for i in range(8)}
    rows = [{**_row(q, ""), "error": "HTTP 401: invalid_api_key"} for q in golds]
    res = score_predictions(_task("classification", "accuracy"), _prepared(golds, [list(golds)]), rows,
                            labels=["a", "b"], n_bootstrap=100)
    assert res["metric"] is None and res["ci_lo"] is None and res["ci_hi"] is None and res["n"] == 0
    assert res["seed_values"] == [None] and res["seed_mean"] is None and res["per_example"] == []
    assert res["error_counts"]["missing"] == 8 and res["completeness"]["complete"] is False
    assert res["completeness"]["missing_share"] == 1.0
    # nothing measured is None, not nan: the cell must still be storable as JSON
    assert res["secondary"]["macro_f1"] is None and res["secondary"]["accuracy"] is None
    json.dumps(res, allow_nan=False)


def test_truncated_outputs_are_counted_but_never_relabel_a_success():
    golds = {"q0": "a", "q1": "a", "q2": "b"}
    rows = [_row("q0", "a", finish_reason="length"), _row("q1", "The intent is", finish_reason="length"),
            _row("q2", "", finish_reason="stop")]
    res = score_predictions(_task("classification", "accuracy"), _prepared(golds, [list(golds)]), rows,
                            labels=["a", "b"], n_bootstrap=100)
    assert [r["category"] for r in res["per_example"]] == ["correct", "truncated", "empty"]
    assert res["error_counts"]["truncated"] == 1 and res["error_counts"]["empty"] == 1


def test_identical_seed_samples_report_one_sample():
    golds = {f"q{i}": "a" for i in range(6)}
    rows = [_row(q, "a" if i % 2 else "b") for i, q in enumerate(golds)]
    seeds = [list(golds), list(reversed(list(golds))), list(golds)]  # the same set three times (pool <= cap)
    res = score_predictions(_task("classification", "accuracy"), _prepared(golds, seeds), rows, labels=["a", "b"],
                            n_bootstrap=100)
    assert res["seed_values"] == [0.5] and res["seed_mean"] == 0.5
    assert res["seed_std"] is None and res["seed_note"] == "one sample"


def _cuad(golds_by_q, windows_by_q, titles):
    pool = []
    for q, texts in windows_by_q.items():
        for i, text in enumerate(texts):
            pool.append({"id": f"{q}-w{i}", "question_id": q, "gold": golds_by_q[q], "fields": {"context": text},
                         "meta": {"title": titles[q], "window": i}})
    return {"splits": {"test_pool": pool}, "test_seeds": [list(windows_by_q)]}


def _cuad_row(q, w, output, lp=None, **extra):
    return {"id": f"{q}-w{w}", "question_id": q, "output": output, "avg_logprob": lp, "error": None, **extra}


def test_cuad_multi_span_windows_clusters_and_missing():
    golds = {"q1": ["Licensee shall pay a fee.", "Fees are due within 30 days."], "q2": [], "q3": ["Ohio law governs."],
             "q4": [], "q5": ["The term is five years."]}
    windows = {"q1": ["Licensee shall pay a fee. Other text.", "More. Fees are due within 30 days."],
               "q2": ["No clause here."], "q3": ["Ohio law governs. End."], "q4": ["Nothing."],
               "q5": ["The term is five years.", "Tail."]}
    titles = {"q1": "contract-A", "q2": "contract-A", "q3": "contract-B", "q4": "contract-B", "q5": "contract-C"}
    prepared = _cuad(golds, windows, titles)
    rows = [_cuad_row("q1", 0, "Licensee shall pay a fee.", -0.2), _cuad_row("q1", 1, "Fees are due within 30 days.", -0.4),
            _cuad_row("q2", 0, "Not found.", -0.1),
            _cuad_row("q3", 0, "- Ohio law governs.\n- Invented clause text", -0.3),
            _cuad_row("q4", 0, "", -0.5),
            _cuad_row("q5", 0, "The term is five years.", -0.1)]  # q5's second window has no row: missing
    task = _task("extraction", "multi_span_f1", cluster_by="title")
    res = score_predictions(task, prepared, rows, labels=None, n_bootstrap=200)
    per = {r["question_id"]: r for r in res["per_example"]}
    assert set(per) == {"q1", "q2", "q3", "q4"}
    assert [per[q]["category"] for q in ("q1", "q2", "q3", "q4")] == ["correct", "not_applicable", "hallucinated", "empty"]
    assert per["q1"]["correct"] == 1.0 and per["q1"]["parsed"] == "Licensee shall pay a fee.\nFees are due within 30 days."
    assert per["q3"]["correct"] == pytest.approx(0.5)  # one of two predicted spans matches the one gold span
    assert per["q4"]["correct"] == 0.0  # a blank output is not an abstention
    assert res["metric"] == pytest.approx((1.0 + 1.0 + 0.5 + 0.0) / 4) and res["metric_id"] == "multi_span_f1"
    assert [per[q]["cluster"] for q in ("q1", "q2", "q3")] == ["contract-A", "contract-A", "contract-B"]
    assert res["n_clusters"] == 2 and res["error_counts"]["missing"] == 1
    assert res["completeness"]["missing_examples"][0]["question_id"] == "q5"
    assert "window 'q5-w1'" in res["completeness"]["missing_examples"][0]["error"]
    sec = res["secondary"]
    # SQuAD F1 of the spans joined by a space, max over gold: q1 joined vs either gold span
    from baseweight_assets.scoring.extraction import token_f1
    q1 = token_f1("Licensee shall pay a fee. Fees are due within 30 days.", golds["q1"])
    q3 = token_f1("Ohio law governs. Invented clause text", golds["q3"])
    assert sec["squad_f1"] == pytest.approx((q1 + 1.0 + q3 + 0.0) / 4)
    assert (sec["tp"], sec["fp"], sec["fn"]) == (2, 0, 0) and sec["detection_f1"] == 1.0
    assert sec["aupr"] == pytest.approx(1.0) and sec["ci"]["squad_f1"][0] <= sec["squad_f1"] <= sec["ci"]["squad_f1"][1]


def test_cuad_failed_window_makes_question_missing_and_cluster_field_must_exist():
    golds = {"q1": ["pay a fee"]}
    prepared = _cuad(golds, {"q1": ["Licensee shall pay a fee.", "Other."]}, {"q1": "K"})
    rows = [_cuad_row("q1", 0, "pay a fee"), _cuad_row("q1", 1, "", error="circuit breaker open")]
    task = _task("extraction", "multi_span_f1", cluster_by="title")
    res = score_predictions(task, prepared, rows, labels=None, n_bootstrap=100)
    assert res["metric"] is None and res["error_counts"]["missing"] == 1
    assert missing_questions("extraction", prepared, rows) == {"q1": "circuit breaker open"}
    assert missing_questions("extraction", prepared, rows[:1]) == {
        "q1": "no prediction row for window 'q1-w1' (1 of 2 windows)"}
    bad = _task("extraction", "multi_span_f1", cluster_by="contract")
    with pytest.raises(ValueError, match="'q1-w0'.*'contract'"):
        score_predictions(bad, prepared, rows[:1] + [_cuad_row("q1", 1, "Not found.")], labels=None)


def test_cuad_cluster_bootstrap_is_wider_than_per_question():
    rng = np.random.default_rng(0)
    golds, windows, titles, rows = {}, {}, {}, []
    for c in range(20):
        hit = rng.random() < 0.5  # a contract the model reads well or badly
        for k in range(6):
            q = f"c{c}q{k}"
            golds[q], windows[q], titles[q] = ["pay the fee"], ["Licensee shall pay the fee."], f"contract-{c}"
            rows.append(_cuad_row(q, 0, "pay the fee" if hit else "Not found."))
    prepared = _cuad(golds, windows, titles)
    clustered = score_predictions(_task("extraction", "multi_span_f1", cluster_by="title"), prepared, rows,
                                  labels=None, n_bootstrap=1000)
    flat = score_predictions(_task("extraction", "multi_span_f1"), prepared, rows, labels=None, n_bootstrap=1000)
    assert clustered["metric"] == flat["metric"]
    assert clustered["n_clusters"] == 20 and flat["n_clusters"] == 120
    assert clustered["ci_hi"] - clustered["ci_lo"] > 2 * (flat["ci_hi"] - flat["ci_lo"])


def test_unknown_question_row_is_named():
    with pytest.raises(ValueError, match="row 0 .*zzz"):
        score_predictions(_task("classification", "accuracy"), _prepared({"q": "a"}, [["q"]]),
                          [{"id": "zzz", "question_id": "zzz", "output": "a"}], labels=["a"])


def test_mbpp_pass_at_1_through_sandbox_and_compare_cells():
    gold = {"test_list": ["assert sq(3) == 9"], "test_setup_code": ""}
    prepared = _prepared({"m1": gold, "m2": gold, "m3": gold}, [["m1", "m2", "m3"]])
    good = "```python\ndef sq(x):\n    return x * x\n```"
    rows = [_row("m1", good), _row("m2", "def sq(x): return x + x"),
            _row("m3", "```python\ndef sq(x):\n    return", finish_reason="length")]
    task = _task("code", "pass_at_1", sandbox={"timeout_s": 5})
    res = score_predictions(task, prepared, rows, labels=None, n_bootstrap=100, workers=2)
    assert res["metric"] == pytest.approx(1 / 3) and res["error_counts"]["pass"] == 1
    assert res["error_counts"]["wrong_answer"] == 1 and res["error_counts"]["truncated"] == 1
    other = score_predictions(task, prepared, [rows[0], _row("m2", good), {**rows[2], "error": "HTTP 500"}],
                              labels=None, n_bootstrap=100)
    assert other["metric"] == 1.0 and other["error_counts"]["missing"] == 1
    cmp = compare_cells(task, other, res, n_resamples=100)
    assert cmp["diff"] == 0.5 and cmp["test"] == "mcnemar" and cmp["n"] == 2
