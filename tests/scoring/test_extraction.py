import collections
import re
import string

import pytest

from baseweight_assets.scoring.extraction import aggregate_windows, category, detection, ranked_metrics, token_f1


# The official SQuAD v2.0 evaluation script's definitions, copied verbatim as the independent reference.
def _normalize_answer(s):
    def remove_articles(text):
        regex = re.compile(r"\b(a|an|the)\b", re.UNICODE)
        return re.sub(regex, " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _get_tokens(s):
    return _normalize_answer(s).split() if s else []


def _compute_f1(a_gold, a_pred):
    gold_toks, pred_toks = _get_tokens(a_gold), _get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision, recall = num_same / len(pred_toks), num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


CASES = [
    ("The Licensee shall pay a fee.", ["licensee shall pay fee"]),
    ("shall pay", ["The Licensee shall pay a fee.", "pay the fee"]),
    ("governed by the laws of Delaware", ["This Agreement is governed by the laws of the State of Delaware."]),
    ("", ["some clause"]),
    ("", []),
    ("an answer", []),
    ("The, the. A!", [""]),
    ("term of 5 years, renewable", ["5 years", "renewable term of five years"]),
]


@pytest.mark.parametrize("pred,golds", CASES)
def test_token_f1_equals_official_squad_v2(pred, golds):
    expected = max(_compute_f1(g, pred) for g in (golds or [""]))
    assert token_f1(pred, golds) == pytest.approx(expected, abs=1e-12)


def _windows(outputs, logprobs):
    return [{"id": f"w{i}", "output": o, "avg_logprob": lp} for i, (o, lp) in enumerate(zip(outputs, logprobs))]


def test_one_hallucinating_window_cannot_override_eleven_confident_abstentions():
    outputs = ["Not found."] * 11 + ["The Supplier shall indemnify everyone."]
    agg = aggregate_windows(_windows(outputs, [-0.05] * 11 + [-0.9]))
    assert agg["answer"] == "" and agg["rule"] == "abstentions_more_confident"
    # Without log-probabilities the majority (abstention) wins.
    agg = aggregate_windows(_windows(outputs, [None] * 12))
    assert agg["answer"] == "" and agg["rule"] == "majority_abstained"
    # With higher confidence than the abstentions, the answer wins.
    agg = aggregate_windows(_windows(outputs, [-0.5] * 11 + [-0.1]))
    assert agg["answer"] == outputs[-1] and agg["window_id"] == "w11"


def test_aggregation_errors_and_all_answers():
    assert aggregate_windows([{"id": "w0", "output": "", "error": "HTTP 500"}])["error"] == "HTTP 500"
    rows = _windows(["A clause.", "Not found.", "B clause."], [-1.0, None, -0.2])
    rows[1]["error"] = "timeout"  # a failed window is ignored
    agg = aggregate_windows(rows)
    assert agg["answer"] == "B clause." and agg["avg_logprob"] == -0.2
    agg = aggregate_windows(_windows(["X y", "Not found", "x Y."], [None, None, None]))
    assert agg["answer"] == "X y" and agg["rule"] == "majority_answered"


def test_categories_fix_the_original_mislabels():
    assert category("", ["A nonexclusive license."], 0.0, None, None) == "missed"
    assert category("Nonexclusive license", ["A nonexclusive license."], 1.0, "grants a nonexclusive license.", None) == "correct"
    assert category("", [], 1.0, None, None) == "not_applicable"
    assert category("Some text", [], 0.0, None, None) == "hallucinated"
    assert category("invented words", ["real clause"], 0.0, "the real clause is here", None) == "hallucinated"
    assert category("real clause is", ["the real clause is here and more"], 0.6, "the real clause is here and more", None) == "partial"
    assert category("x", ["y"], 0.0, None, "boom") == "api_error"


def test_detection_prf():
    d = detection([True, True, False, False], [True, False, True, False])
    assert (d["tp"], d["fp"], d["fn"]) == (1, 1, 1)
    assert d["detection_precision"] == d["detection_recall"] == d["detection_f1"] == 0.5


def test_aupr_hand_computed():
    items = [
        {"answered": True, "answerable": True, "f1": 1.0, "confidence": -0.1},
        {"answered": True, "answerable": False, "f1": 0.0, "confidence": -0.2},
        {"answered": True, "answerable": True, "f1": 0.6, "confidence": -0.3},
        {"answered": False, "answerable": True, "f1": 0.0, "confidence": None},
    ]
    got, notes = ranked_metrics(items)
    # points (1/3, 1), (1/3, 1/2), (2/3, 2/3) after prepending (0, 1)
    assert got["aupr"] == pytest.approx(1 / 3 + (1 / 3) * (0.5 + 2 / 3) / 2)
    assert got["precision_at_80_recall"] is None and notes
    items[3].update(answered=True, f1=0.9, confidence=-0.4)  # recall reaches 1 at precision 3/4
    got, _ = ranked_metrics(items)
    assert got["precision_at_80_recall"] == pytest.approx(0.75)


def test_aupr_unavailable_without_logprobs():
    items = [{"answered": True, "answerable": True, "f1": 1.0, "confidence": None}]
    got, notes = ranked_metrics(items)
    assert got == {"aupr": None, "precision_at_80_recall": None}
    assert "log-probabilities" in notes[0]
