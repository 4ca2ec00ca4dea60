"""The ``*_predictions_complete`` check and the scorer say the same thing about a cell: one definition of missing
(``scoring.score.missing_questions``), applied per training seed."""

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.inference.completeness import check_prediction_completeness
from baseweight_assets.scoring.seeded import score_cell

THRESHOLD = 0.02


def _task(task_type, metric, **extra):
    return TaskConfig(id="t", name="t", task_type=task_type, metric=metric, max_output_tokens=8,
                      source={"offline": {"loader": "csv", "dir": "x"}}, **extra)


def _classification(n, seeds=True):
    golds = {f"q{i}": "ab"[i % 2] for i in range(n)}
    pool = [{"id": q, "question_id": q, "gold": g, "fields": {}, "meta": {}} for q, g in golds.items()]
    return golds, {"splits": {"test_pool": pool}, "test_seeds": [list(golds)] if seeds else [], "labels": ["a", "b"]}


def _row(q, output, **extra):
    return {"id": q, "question_id": q, "output": output, "error": None, **extra}


def _both(task, prepared, rows):
    scores = score_cell(task, prepared, rows, labels=prepared.get("labels"), n_bootstrap=20,
                        incomplete_threshold=THRESHOLD)
    check = check_prediction_completeness(task.task_type, {"status": "ok", "rows": rows}, prepared, THRESHOLD)
    assert check.passed == scores["completeness"]["complete"]
    return scores, check


def test_a_cuad_question_with_a_window_missing_is_missing_for_both():
    pool = [{"id": f"{q}-w{w}", "question_id": q, "gold": [], "fields": {"context": "x"}, "meta": {"window": w}}
            for q, n in (("q1", 2), ("q2", 1)) for w in range(n)]
    prepared = {"splits": {"test_pool": pool}, "test_seeds": [["q1", "q2"]]}
    rows = [{"id": "q1-w0", "question_id": "q1", "output": "Not found.", "avg_logprob": -0.1, "error": None},
            {"id": "q2-w0", "question_id": "q2", "output": "Not found.", "avg_logprob": -0.1, "error": None}]
    scores, check = _both(_task("extraction", "multi_span_f1"), prepared, rows)
    assert scores["completeness"]["n_missing"] == check.metadata["n_missing"] == 1
    assert not check.passed and check.metadata["missing"] == ["q1"]
    assert check.metadata["missing_reasons"] == {"no prediction row for window 'q1-w1' (1 of 2 windows)": 1}
    rows.append({"id": "q1-w1", "question_id": "q1", "output": "Not found.", "avg_logprob": -0.2, "error": None})
    scores, check = _both(_task("extraction", "multi_span_f1"), prepared, rows)
    assert check.passed and check.metadata["n_missing"] == scores["completeness"]["n_missing"] == 0


def test_an_empty_error_is_a_failed_request_for_both():
    golds, prepared = _classification(10)
    rows = [_row(q, g) for q, g in golds.items()]
    rows[3] = {**rows[3], "output": None, "error": ""}
    scores, check = _both(_task("classification", "accuracy"), prepared, rows)
    assert not check.passed and check.metadata["missing"] == ["q3"]
    assert scores["n"] == 9 and scores["error_counts"]["missing"] == 1
    assert check.metadata["missing_reasons"] == {"request failed (empty error message)": 1}


def test_a_multi_seed_lora_cell_is_complete_only_if_every_seed_is():
    golds, prepared = _classification(10)
    rows = [_row(q, g, seed=0) for q, g in golds.items()]
    # seed 1 never answered q4 and failed q7: seed 0's answers do not stand in for them
    rows += [_row(q, g, seed=1) for q, g in golds.items() if q != "q4"]
    rows[-1] = {**rows[-1], "output": None, "error": "HTTP 429: retries exhausted"}  # q9 of seed 1
    scores, check = _both(_task("classification", "accuracy"), prepared, rows)
    assert [p["completeness"]["n_missing"] for p in scores["per_seed"]] == [0, 2]
    assert not check.passed
    assert check.metadata["n_missing_per_seed"] == [0, 2] and check.metadata["training_seeds"] == [0, 1]
    assert check.metadata["n_missing"] == 2 and check.metadata["missing"] == ["q4", "q9"]
    assert "training seed 1" in check.description
    rows += [_row("q4", "a", seed=1), _row("q9", "b", seed=1)]  # a later row of the same request supersedes it
    rows = [r for r in rows if r["error"] is None]
    scores, check = _both(_task("classification", "accuracy"), prepared, rows)
    assert check.passed and check.metadata["n_missing_per_seed"] == [0, 0]


def test_without_test_seeds_the_whole_pool_is_sampled_for_both():
    golds, prepared = _classification(50, seeds=False)
    rows = [_row(q, g) for q, g in golds.items() if q != "q0"]
    scores, check = _both(_task("classification", "accuracy"), prepared, rows)
    assert check.metadata["n_sampled"] == scores["completeness"]["n_sampled"] == 50
    assert check.passed and check.metadata["missing"] == ["q0"]  # 1/50 = 2 % is within the threshold


def test_a_skipped_cell_passes_and_an_empty_sample_fails():
    assert check_prediction_completeness("classification", {"status": "skipped", "reason": "no key"}, {}, 0.02).passed
    _, prepared = _classification(0)
    check = check_prediction_completeness("classification", {"status": "ok", "rows": []}, prepared, 0.02)
    assert not check.passed and "no sampled test question" in check.description
