import collections
import itertools
import re
import string

import numpy as np
import pytest

from baseweight_assets.scoring.extraction import (
    aggregate_windows, category, detection, multi_span_f1, ranked_metrics, squad_f1, token_f1,
)


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


def test_squad_f1_scores_the_spans_joined_by_a_space():
    golds = ["The Licensee shall pay a fee.", "within thirty days"]
    pred = ["shall pay a fee", "within thirty days"]
    assert squad_f1(pred, golds) == pytest.approx(max(_compute_f1(g, "shall pay a fee within thirty days") for g in golds))
    assert squad_f1([], []) == 1.0 and squad_f1([], ["x"]) == 0.0 and squad_f1(["x"], []) == 0.0


def _brute_force_multi_span(pred, gold):
    """Independent reference: best one-to-one matching by trying every assignment (DROP's definition)."""
    def dedupe(spans):
        seen, out = set(), []
        for s in spans:
            if _normalize_answer(s) not in seen:
                seen.add(_normalize_answer(s))
                out.append(s)
        return out

    pred, gold = dedupe(pred), dedupe(gold)
    if not pred or not gold:
        return float(not pred and not gold)
    small, large = (pred, gold) if len(pred) <= len(gold) else (gold, pred)
    best = 0.0
    for perm in itertools.permutations(range(len(large)), len(small)):
        total = sum(_compute_f1(large[j], small[i]) for i, j in enumerate(perm))
        best = max(best, total)
    return best / max(len(pred), len(gold))


def test_multi_span_f1_hand_computed():
    # pairs: ("licensee shall pay fee", "pay fee") F1 2/3; ("within thirty days", "within 30 days") F1 2/3
    assert multi_span_f1(["pay a fee", "within 30 days"], ["Licensee shall pay a fee", "within thirty days"]) == \
        pytest.approx(2 / 3)
    # greedy would pair "p q r s" with "p q r" (6/7) and leave 0; the optimum is 2/3 + 2/3 over 2 spans
    assert multi_span_f1(["p q r", "r s"], ["p q r s", "p q t"]) == pytest.approx((2 / 3 + 2 / 3) / 2)
    # every extra or missing span costs: matched sum / max(#pred, #gold)
    assert multi_span_f1(["pay the fee", "noise", "more noise"], ["pay the fee"]) == pytest.approx(1 / 3)
    assert multi_span_f1(["pay the fee"], ["pay the fee", "other clause", "third"]) == pytest.approx(1 / 3)
    # duplicates after SQuAD normalisation count once, on both sides
    assert multi_span_f1(["The fee.", "the fee", "FEE"], ["fee", "a fee"]) == 1.0
    # empty cases
    assert multi_span_f1([], []) == 1.0
    assert multi_span_f1(["anything"], []) == 0.0 and multi_span_f1([], ["clause"]) == 0.0


def test_multi_span_f1_matches_brute_force_on_random_cases():
    rng = np.random.default_rng(0)
    vocab = ["pay", "fee", "term", "days", "licensee", "shall", "renew", "notice", "the", "30"]
    for _ in range(300):
        def spans(k):
            return [" ".join(rng.choice(vocab, size=rng.integers(1, 6))) for _ in range(k)]
        pred, gold = spans(rng.integers(0, 5)), spans(rng.integers(0, 5))
        assert multi_span_f1(pred, gold) == pytest.approx(_brute_force_multi_span(pred, gold), abs=1e-12), (pred, gold)


def _windows(outputs, logprobs, **extra):
    return [{"id": f"w{i}", "output": o, "avg_logprob": lp, "error": None, **extra}
            for i, (o, lp) in enumerate(zip(outputs, logprobs))]


def test_a_found_clause_is_never_silenced_by_abstaining_windows():
    """The old rules let eleven confident abstentions (or a majority vote) overrule the one window that
    held the clause; the clause sits in one window of twelve, so abstentions elsewhere are expected."""
    outputs = ["Not found."] * 11 + ["The Supplier shall indemnify the Buyer."]
    for logprobs in ([-0.05] * 11 + [-0.9], [None] * 12, [-0.5] * 11 + [-0.1]):
        agg = aggregate_windows(_windows(outputs, logprobs))
        assert agg["spans"] == [outputs[-1]] and agg["window_ids"] == ["w11"] and not agg["abstained"]
        assert agg["avg_logprob"] == logprobs[-1] and agg["rule"] == "union_of_windows"


def test_union_of_window_spans_deduplicated_in_window_order():
    rows = _windows(["Fee is $5.\nTerm: 2 years", "Not found.", "the fee is $5\nRenewal: automatic", "- Term: 2 years"],
                    [-0.4, -0.01, -0.2, -0.9])
    agg = aggregate_windows(rows)
    assert agg["spans"] == ["Fee is $5.", "Term: 2 years", "Renewal: automatic"]
    assert agg["window_ids"] == ["w0", "w2", "w3"]
    assert agg["avg_logprob"] == -0.2  # the highest among the windows that found spans, not the abstention's -0.01
    rows[2]["avg_logprob"] = None  # a finding window without a log-probability: confidence unknown
    assert aggregate_windows(rows)["avg_logprob"] is None


def test_abstains_only_when_every_window_abstains_and_blank_is_not_an_abstention():
    agg = aggregate_windows(_windows(["Not found.", "None", "There is no such clause in this excerpt."], [-0.1] * 3))
    assert agg["spans"] == [] and agg["abstained"] and not agg["blank"] and agg["rule"] == "all_abstained"
    agg = aggregate_windows(_windows(["Not found.", "  ", "Not found."], [-0.1] * 3))
    assert agg["spans"] == [] and not agg["abstained"] and agg["blank"] and agg["rule"] == "blank_window"


def test_any_failed_window_makes_the_question_missing():
    rows = _windows(["The clause.", "Not found."], [-0.1, -0.2])
    rows[1]["error"] = "HTTP 401: invalid api key"
    agg = aggregate_windows(rows)
    assert agg["error"] == "HTTP 401: invalid api key" and agg["spans"] == [] and agg["rule"] == "window_failed"
    rows[1]["error"] = ""  # an empty error string is still a failed request (inference.store.answered's rule)
    assert aggregate_windows(rows)["error"]
    assert aggregate_windows([])["error"] == "no prediction rows"


def test_truncation_flag():
    rows = _windows(["The clause", "Not found."], [None, None])
    rows[0]["finish_reason"] = "length"
    assert aggregate_windows(rows)["truncated"]
    rows[0]["finish_reason"] = "stop"
    assert not aggregate_windows(rows)["truncated"]


def _agg(spans, abstained=False, blank=False, truncated=False, error=None):
    return {"spans": spans, "abstained": abstained, "blank": blank, "truncated": truncated, "error": error}


def test_categories():
    ctx = ["The Licensee shall pay a fee of $5. Ohio law governs."]
    gold = ["The Licensee shall pay a fee of $5."]
    f1 = lambda spans: multi_span_f1(spans, gold)  # noqa: E731
    assert category(_agg([], error="HTTP 500"), gold, 0.0, ctx) == "missing"
    assert category(_agg([], abstained=True), [], 1.0, ctx) == "not_applicable"
    assert category(_agg(gold), gold, 1.0, ctx) == "correct"
    assert category(_agg([], abstained=True), gold, 0.0, ctx) == "missed"
    assert category(_agg([], blank=True), gold, 0.0, ctx) == "empty"
    assert category(_agg([], blank=True), [], 1.0, ctx) == "empty"  # blank is never a correct abstention
    assert category(_agg(["Ohio law governs"]), [], 0.0, ctx) == "hallucinated"  # no clause exists
    invented = ["The Licensee shall pay a fee of $9."]
    assert category(_agg(invented), gold, f1(invented), ctx) == "hallucinated"  # not contract text
    assert category(_agg(invented), gold, f1(invented), None) == "partial"  # unchecked without the window text
    part = ["shall pay a fee"]
    assert category(_agg(part), gold, f1(part), ctx) == "partial"
    other = ["Ohio law governs"]
    assert f1(other) == 0.0 and category(_agg(other), gold, 0.0, ctx) == "wrong_span"
    # truncated explains a failure but never relabels a success
    assert category(_agg(part, truncated=True), gold, f1(part), ctx) == "truncated"
    assert category(_agg(gold, truncated=True), gold, 1.0, ctx) == "correct"
    assert category(_agg([], blank=True, truncated=True), gold, 0.0, ctx) == "truncated"


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
