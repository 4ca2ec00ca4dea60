import json

import pytest
from sklearn.metrics import f1_score

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.scoring import cli
from baseweight_assets.scoring.score import score_predictions
from baseweight_assets.scoring.stats import compare_cells


def _task(task_type, metric, **extra):
    return TaskConfig(id="t", name="t", task_type=task_type, metric=metric, max_output_tokens=8,
                      source={"offline": {"loader": "csv", "dir": "x"}}, **extra)


def _prepared(golds, seeds):
    pool = [{"id": q, "question_id": q, "gold": g, "fields": {}} for q, g in golds.items()]
    return {"splits": {"test_pool": pool}, "test_seeds": seeds, "labels": None}


def test_classification_scores_union_of_seeds_and_matches_sklearn():
    golds = {f"q{i}": ["a", "b", "c"][i % 3] for i in range(30)}
    outputs = {q: (g if i % 4 else "b") for i, (q, g) in enumerate(golds.items())}
    outputs["q5"] = "I cannot answer that"
    outputs["q7"] = "something else"
    rows = [{"id": q, "question_id": q, "output": o, "error": None} for q, o in outputs.items() if q != "q9"]
    seeds = [[f"q{i}" for i in range(20)], [f"q{i}" for i in range(10, 30)]]
    res = score_predictions(_task("classification", "macro_f1"), _prepared(golds, seeds), rows,
                            labels=["a", "b", "c"], n_bootstrap=200)
    gold = list(golds.values())
    pred = [outputs[q] if q not in ("q5", "q7", "q9") else "__INVALID__" for q in golds]
    assert res["n"] == 30
    assert res["metric"] == pytest.approx(f1_score(gold, pred, labels=["a", "b", "c"], average="macro", zero_division=0))
    assert res["ci_lo"] <= res["metric"] <= res["ci_hi"]
    assert len(res["seed_values"]) == 2 and res["seed_std"] is not None
    counts = res["error_counts"]
    assert counts["refusal"] == 1 and counts["format_violation"] == 1 and counts["api_error"] == 1
    assert sum(counts.values()) == 30 and res["notes"]
    assert {"question_id", "correct", "category", "parsed"} <= set(res["per_example"][0])


def test_unknown_question_row_is_named():
    with pytest.raises(ValueError, match="row 0 .*zzz"):
        score_predictions(_task("classification", "accuracy"), _prepared({"q": "a"}, [["q"]]),
                          [{"id": "zzz", "question_id": "zzz", "output": "a"}], labels=["a"])


def test_cuad_windows_aggregate_and_aupr_needs_logprobs():
    pool = [
        {"id": "q1-w0", "question_id": "q1", "gold": ["pay a fee"], "fields": {"text": "Licensee shall pay a fee."}},
        {"id": "q1-w1", "question_id": "q1", "gold": ["pay a fee"], "fields": {"text": "Other text."}},
        {"id": "q2-w0", "question_id": "q2", "gold": [], "fields": {"text": "No clause here."}},
    ]
    prepared = {"splits": {"test_pool": pool}, "test_seeds": [["q1", "q2"]]}
    rows = [{"id": "q1-w0", "question_id": "q1", "output": "pay a fee", "avg_logprob": None},
            {"id": "q1-w1", "question_id": "q1", "output": "Not found.", "avg_logprob": None},
            {"id": "q2-w0", "question_id": "q2", "output": "Not found.", "avg_logprob": None}]
    task = _task("extraction", "token_f1")
    res = score_predictions(task, prepared, rows, labels=None, n_bootstrap=100)
    # q1: 1 answer vs 1 abstention without logprobs -> majority does not answer -> missed
    assert [r["category"] for r in res["per_example"]] == ["missed", "not_applicable"]
    assert res["metric"] == 0.5 and res["secondary"]["aupr"] is None
    assert any("log-probabilities" in n for n in res["notes"])
    rows[0]["avg_logprob"], rows[1]["avg_logprob"], rows[2]["avg_logprob"] = -0.1, -0.4, -0.2
    res = score_predictions(task, prepared, rows, labels=None, n_bootstrap=100)
    assert [r["category"] for r in res["per_example"]] == ["correct", "not_applicable"]
    assert res["metric"] == 1.0 and res["secondary"]["aupr"] == pytest.approx(1.0)


def test_mbpp_pass_at_1_through_sandbox_and_compare_cells():
    gold = {"test_list": ["assert sq(3) == 9"], "test_setup_code": ""}
    prepared = _prepared({"m1": gold, "m2": gold}, [["m1", "m2"]])
    rows = [{"id": "m1", "question_id": "m1", "output": "```python\ndef sq(x):\n    return x * x\n```"},
            {"id": "m2", "question_id": "m2", "output": "def sq(x): return x + x"}]
    task = _task("code", "pass_at_1", sandbox={"timeout_s": 5})
    res = score_predictions(task, prepared, rows, labels=None, n_bootstrap=100, workers=2)
    assert res["metric"] == 0.5 and res["error_counts"]["pass"] == 1 and res["error_counts"]["wrong_answer"] == 1
    other = score_predictions(task, prepared, [rows[0], {**rows[1], "output": rows[0]["output"]}], labels=None,
                              n_bootstrap=100)
    cmp = compare_cells(task, other, res, n_resamples=100)
    assert cmp["diff"] == 0.5 and cmp["test"] == "mcnemar" and cmp["n"] == 2


def test_cli_prints_one_json_object(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    lines = [{"id": "1", "output": "<answer>A</answer>", "gold": "A"},
             {"id": "2", "output": "The answer is C", "gold": "B", "avg_logprob": -0.3},
             {"id": "3", "output": "", "gold": "D"}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert cli.main(["medmcqa", str(path), "--n-bootstrap", "200"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric_id"] == "accuracy" and out["metric"] == pytest.approx(1 / 3)
    assert out["error_counts"]["empty"] == 1 and out["error_counts"]["wrong_class"] == 1
    assert "ci_lo" in out and "per_example" not in out


def test_cli_bad_line_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "output": "A", "gold": "A"}\n{"id": "2", "output": \n')
    assert cli.main(["medmcqa", str(path)]) == 2
    assert f"{path}:2" in capsys.readouterr().err
    path.write_text('{"id": "1", "output": "x", "gold": "not a list"}\n')
    assert cli.main(["cuad", str(path)]) == 2
    assert f"{path}:1" in capsys.readouterr().err
    assert cli.main(["no-such-task", str(path)]) == 2
