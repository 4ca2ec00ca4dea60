"""``baseweight-score`` through the installed console script, as a user runs it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baseweight_assets.scoring.extraction import token_f1

SCRIPT = shutil.which("baseweight-score") or str(Path(sys.executable).parent / "baseweight-score")


def _run(*args, cwd=None):
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


def _write(path, lines):
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_cuad_prints_one_json_object_with_every_headline_piece(tmp_path):
    lines = [
        # q1: two gold clauses in two windows; each window finds one -> the union answers both
        {"id": "q1-w0", "question_id": "q1", "output": "- Licensee shall pay a fee.", "gold": ["Licensee shall pay a fee.",
         "Fees are due within 30 days."], "cluster": "contract-A", "avg_logprob": -0.2, "finish_reason": "stop",
         "context": "Licensee shall pay a fee. Other."},
        {"id": "q1-w1", "question_id": "q1", "output": "Not found.", "gold": ["Licensee shall pay a fee.",
         "Fees are due within 30 days."], "cluster": "contract-A", "avg_logprob": -0.01, "context": "Nothing here."},
        {"id": "q1-w2", "question_id": "q1", "output": "Fees are due within 30 days.", "gold": [
         "Licensee shall pay a fee.", "Fees are due within 30 days."], "cluster": "contract-A", "avg_logprob": -0.5,
         "context": "Fees are due within 30 days."},
        # q2: no clause, the model says so in its own words
        {"id": "q2", "output": "There is no non-compete clause in this excerpt.", "gold": [], "cluster": "contract-A",
         "avg_logprob": -0.1, "context": "Unrelated text."},
        # q3: one of two predicted spans is right
        {"id": "q3", "output": "Ohio law governs.\nThe Supplier shall indemnify.", "gold": ["Ohio law governs."],
         "cluster": "contract-B", "avg_logprob": -0.3, "context": "Ohio law governs. The Supplier shall indemnify."},
        # q4: cut off by the token limit before finishing its clause
        {"id": "q4", "output": "The term of this Agreement", "gold": ["The term of this Agreement is five years."],
         "cluster": "contract-B", "avg_logprob": -0.4, "finish_reason": "length",
         "context": "The term of this Agreement is five years."},
        # q5: the request failed: missing, not wrong
        {"id": "q5", "output": "", "gold": ["Anything."], "cluster": "contract-C", "error": "HTTP 401: invalid key"},
    ]
    res = _run("cuad", _write(tmp_path / "preds.jsonl", lines), "--n-bootstrap", 300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)  # exactly one JSON object
    assert out["task"] == "cuad" and out["metric_id"] == "multi_span_f1"
    # q1 1.0, q2 1.0, q3 1/2 (one of two spans), q4 multi-span F1 of the cut span
    q4 = token_f1("The term of this Agreement", ["The term of this Agreement is five years."])
    assert out["metric"] == pytest.approx((1.0 + 1.0 + 0.5 + q4) / 4)
    assert out["ci_lo"] <= out["metric"] <= out["ci_hi"] and out["n"] == 4 and out["n_clusters"] == 2
    q1 = token_f1("Licensee shall pay a fee. Fees are due within 30 days.", lines[0]["gold"])
    q3 = token_f1("Ohio law governs. The Supplier shall indemnify.", ["Ohio law governs."])
    assert out["secondary"]["squad_f1"] == pytest.approx((q1 + 1.0 + q3 + q4) / 4)
    assert out["secondary"]["detection_f1"] == 1.0
    counts = out["error_counts"]
    assert (counts["correct"], counts["not_applicable"], counts["partial"], counts["truncated"], counts["missing"]) == \
        (1, 1, 1, 1, 1) and sum(counts.values()) == 5
    comp = out["completeness"]
    assert comp["n_sampled"] == 5 and comp["n_missing"] == 1 and comp["complete"] is False
    assert comp["missing_examples"] == [{"question_id": "q5", "error": "HTTP 401: invalid key"}]
    assert comp["threshold"] == 0.02 and "per_example" not in out


def test_cuad_without_cluster_column_says_so(tmp_path):
    path = _write(tmp_path / "p.jsonl", [{"id": "1", "output": "Not found.", "gold": []},
                                         {"id": "2", "output": "x", "gold": ["x"]}])
    out = json.loads(_run("cuad", path, "--n-bootstrap", 100, "--per-example").stdout)
    assert out["metric"] == 1.0 and out["n_clusters"] == 2 and len(out["per_example"]) == 2
    assert any("'title'" in note for note in out["notes"])


def test_classification_and_choice(tmp_path):
    path = _write(tmp_path / "m.jsonl", [
        {"id": "1", "output": "<answer>A</answer>", "gold": "A"},
        {"id": "2", "output": "The answer is C", "gold": "B", "avg_logprob": -0.3},
        {"id": "3", "output": "", "gold": "D"}])
    res = _run("medmcqa", path, "--n-bootstrap", 200)
    out = json.loads(res.stdout)
    assert out["metric_id"] == "accuracy" and out["metric"] == pytest.approx(1 / 3)
    assert out["error_counts"]["empty"] == 1 and out["error_counts"]["wrong_class"] == 1
    assert "ci_lo" in out and out["completeness"]["complete"] is True
    path = _write(tmp_path / "f.jsonl", [{"id": "1", "output": "Not positive.", "gold": "positive"},
                                         {"id": "2", "output": "negative", "gold": "negative"}])
    out = json.loads(_run("fpb", path, "--n-bootstrap", 100).stdout)
    assert out["secondary"]["accuracy"] == 0.5 and out["error_counts"]["format_violation"] == 1


def test_bad_lines_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "output": "A", "gold": "A"}\n{"id": "2", "output": \n')
    res = _run("medmcqa", path)
    assert res.returncode == 2 and f"{path}:2" in res.stderr and not res.stdout
    cases = [
        ({"id": "1", "output": "x", "gold": "not a list"}, "list of gold spans"),
        ({"id": "1", "output": "x", "gold": [], "finish_reason": 3}, "'finish_reason' must be a string"),
        ({"id": "1", "output": "x", "gold": [], "error": {"code": 401}}, "'error' must be a string"),
        ({"id": "1", "output": "x", "gold": [], "avg_logprob": "high"}, "'avg_logprob' must be a number"),
    ]
    for line, message in cases:
        _write(path, [{"id": "0", "output": "Not found.", "gold": []}, line])
        res = _run("cuad", path)
        assert res.returncode == 2 and f"{path}:2" in res.stderr and message in res.stderr, res.stderr
    _write(path, [{"id": "a", "question_id": "q", "output": "x", "gold": [], "cluster": "k1"},
                  {"id": "b", "question_id": "q", "output": "x", "gold": [], "cluster": "k2"}])
    res = _run("cuad", path)
    assert res.returncode == 2 and f"{path}:2: cluster differs" in res.stderr
    res = _run("no-such-task", path)
    assert res.returncode == 2 and "no-such-task" in res.stderr
