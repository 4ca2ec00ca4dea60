"""CUAD scoring: window aggregation, multi-span F1, SQuAD v2 token F1, answer detection and ranked metrics.

Spans: a window's output is split into spans by ``parsing.split_spans`` (one per non-blank line, list
markers and wrapping quotes removed, abstention lines give none).

Window aggregation (``aggregate_windows``), per question over its window rows in window order:
  1. Any window whose request failed (``error`` is not None) makes the question MISSING: its answer is
     unknown, so it is neither right nor wrong (``score`` leaves it out of every statistic).
  2. The question's spans are the UNION of the spans of all its windows, in window order, each kept once
     (duplicates compared after SQuAD normalisation, ``normalize_answer``).
  3. It abstains only when every window abstains (an abstention output, ``parsing.is_abstention``). A
     window with no span that did not abstain is blank (an empty output, or only markers and quotes).
  4. Its confidence, for the ranked metrics, is the HIGHEST ``avg_logprob`` among the windows that found
     spans; None when any of those windows has none (the provider gave no log-probabilities).
  No vote and no log-probability contest: abstaining windows are expected (the clause sits in one window
  of twelve), so they can never silence a clause another window found.

Multi-span F1 (``multi_span_f1``, the headline): DROP's rule (Dua et al. 2019, the official
drop_eval.py ``_align_bags``): predicted and gold spans are aligned one-to-one so that the total pairwise
SQuAD v2 token F1 is maximal (``scipy.optimize.linear_sum_assignment``); the question scores the matched
sum divided by max(#predicted, #gold), so every extra or missing span costs. Both lists are first
de-duplicated after SQuAD normalisation (an output line cannot say where in the contract a repeated text
sits). No gold and no span scores 1; exactly one of them empty scores 0. Differences from drop_eval.py:
the pairwise score is SQuAD v2's multiset token F1 (DROP uses bags of tokens and a number-match rule).
A question with no span only counts as "no span" when it abstained: if some window was blank
(``question_scores``) it scores 0 on every F1, clause or not.

SQuAD F1 (``squad_f1``, secondary, comparable with published SQuAD/CUAD-QA numbers): the official SQuAD
v2 ``compute_f1`` (lower case, drop punctuation, drop a/an/the, collapse whitespace; multiset token
overlap; both empty = 1, one empty = 0), maximised over the gold spans, of ONE prediction string: the
predicted spans joined by a single space ("" when there is none). An absent clause is the gold "".

Answer detection: a question is answered when it has a span; detection precision / recall / F1 count it
against "a clause exists" (gold non-empty).
Ranked metrics (CUAD paper style): questions sorted by confidence descending (stable); walking down, each
ANSWERED question is accepted; a hit is an accepted question whose clause exists and whose multi-span F1
>= 0.5. recall = hits / #questions with a clause, precision = hits / #accepted. AUPR is the trapezoid
area over recall with the point (0, first precision) prepended; precision@80% recall is the highest
precision at recall >= 0.8. Both are None (with a note) when any answered question lacks a confidence,
or no question has one: ranking them arbitrarily would invent a number.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

from baseweight_assets.scoring.categories import is_truncated
from baseweight_assets.scoring.parsing import is_abstention, split_spans

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)
HIT_F1 = 0.5
CORRECT_F1 = 0.9


def normalize_answer(text: str) -> str:
    """SQuAD v2 ``normalize_answer``: lower, remove punctuation, articles and extra whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _f1(gold: str, pred: str) -> float:
    gold_toks, pred_toks = normalize_answer(gold).split(), normalize_answer(pred).split()
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)
    same = sum((Counter(gold_toks) & Counter(pred_toks)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def token_f1(pred: str, golds: list[str]) -> float:
    """Max SQuAD v2 F1 of one prediction string over the gold spans; ``golds == []`` means gold ""."""
    return max(_f1(g, pred) for g in (golds or [""]))


def squad_f1(pred_spans: list[str], golds: list[str]) -> float:
    """SQuAD v2 F1 of the predicted spans joined by a space (module docstring)."""
    return token_f1(" ".join(pred_spans), golds)


def unique_spans(spans: list[str]) -> list[str]:
    """The spans in order, each kept once: a later span equal to an earlier one after normalisation is dropped."""
    seen, out = set(), []
    for span in spans:
        key = normalize_answer(span)
        if key not in seen:
            seen.add(key)
            out.append(span)
    return out


def multi_span_f1(pred_spans: list[str], gold_spans: list[str]) -> float:
    """DROP's one-to-one aligned multi-span F1 with SQuAD v2 token F1 per pair (module docstring)."""
    pred, gold = unique_spans(pred_spans), unique_spans(gold_spans)
    if not pred or not gold:
        return float(not pred and not gold)
    scores = np.array([[_f1(g, p) for p in pred] for g in gold])
    from scipy.optimize import linear_sum_assignment  # on first use: scipy.optimize costs ~0.5 s to import

    rows, cols = linear_sum_assignment(scores, maximize=True)
    return float(scores[rows, cols].sum() / max(len(pred), len(gold)))


def question_scores(agg: dict, golds: list[str]) -> tuple[float, float]:
    """(multi-span F1, SQuAD F1) of an aggregated question. A question with no span that did not abstain
    (some window blank) scores 0 on both even when no clause exists: a blank output does not say "none"."""
    if not agg["spans"] and not agg["abstained"]:
        return 0.0, 0.0
    return multi_span_f1(agg["spans"], golds), squad_f1(agg["spans"], golds)


def in_context(answer: str, context: str) -> bool:
    """Whether the answer's normalised tokens occur contiguously in the normalised context."""
    norm = normalize_answer(answer)
    return bool(norm) and f" {norm} " in f" {normalize_answer(context)} "


def aggregate_windows(rows: list[dict]) -> dict:
    """One question's window rows (in window order) -> the question's answer (rules in the module docstring).

    Returns {"spans", "error", "n_windows", "window_ids" (windows that found spans), "avg_logprob",
    "abstained" (every window abstained), "blank" (some window neither found a span nor abstained),
    "truncated" (some window stopped at the token limit: ``finish_reason == "length"``), "rule"}.
    """
    base = {"n_windows": len(rows), "truncated": any(is_truncated(r) for r in rows)}
    failed = next((r for r in rows if r.get("error") is not None), None)
    if failed is not None or not rows:
        error = "no prediction rows" if failed is None else (failed["error"] or "request failed (empty error)")
        return {**base, "spans": [], "error": error, "window_ids": [], "avg_logprob": None, "abstained": False,
                "blank": False, "rule": "window_failed"}
    spans, found, abstained, blank = [], [], 0, 0
    for r in rows:
        output = r.get("output") or ""
        window_spans = split_spans(output)
        if window_spans:
            spans += window_spans
            found.append(r)
        elif is_abstention(output):
            abstained += 1
        else:
            blank += 1
    confs = [r.get("avg_logprob") for r in found]
    conf = max(confs) if confs and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in confs) else None
    rule = "union_of_windows" if found else ("blank_window" if blank else "all_abstained")
    return {**base, "spans": unique_spans(spans), "error": None, "window_ids": [r.get("id") for r in found],
            "avg_logprob": conf, "abstained": abstained == len(rows), "blank": blank > 0, "rule": rule}


def category(agg: dict, golds: list[str], f1: float, window_texts: list[str] | None) -> str:
    """Extraction category of one aggregated question (decision order documented in ``categories``)."""
    spans = agg["spans"]
    if agg["error"]:
        return "missing"
    grounded = window_texts is None or all(any(in_context(s, t) for t in window_texts) for s in spans)
    if not golds and agg["abstained"]:
        return "not_applicable"
    if golds and spans and f1 >= CORRECT_F1 and grounded:
        return "correct"
    if agg["truncated"]:
        return "truncated"
    if not spans:
        return "empty" if agg["blank"] else "missed"
    if not golds or not grounded:
        return "hallucinated"
    return "partial" if f1 > 0 else "wrong_span"


def detection(answered: list[bool], answerable: list[bool]) -> dict:
    tp = sum(a and g for a, g in zip(answered, answerable, strict=True))
    fp = sum(a and not g for a, g in zip(answered, answerable))
    fn = sum(g and not a for a, g in zip(answered, answerable))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"detection_precision": p, "detection_recall": r,
            "detection_f1": 2 * p * r / (p + r) if p + r else 0.0, "tp": tp, "fp": fp, "fn": fn}


def ranked_metrics(items: list[dict]) -> tuple[dict, list[str]]:
    """AUPR and precision@80% recall from items {"answered", "answerable", "f1", "confidence"}."""
    notes: list[str] = []
    n_answerable = sum(1 for it in items if it["answerable"])
    answered = [it for it in items if it["answered"]]
    if n_answerable == 0:
        notes.append("aupr: no question in the sample has a clause, so recall is undefined")
        return {"aupr": None, "precision_at_80_recall": None}, notes
    has_conf = [isinstance(it["confidence"], (int, float)) for it in items]
    if not any(has_conf) or any(not isinstance(it["confidence"], (int, float)) for it in answered):
        notes.append("aupr, precision_at_80_recall: unavailable -- the provider returned no log-probabilities "
                     "for some answered questions, and ranking without confidence would be arbitrary")
        return {"aupr": None, "precision_at_80_recall": None}, notes
    if not answered:
        return {"aupr": 0.0, "precision_at_80_recall": None}, notes
    ranked = sorted(answered, key=lambda it: -it["confidence"])
    hits, points = 0, []
    for accepted, it in enumerate(ranked, start=1):
        hits += int(it["answerable"] and it["f1"] >= HIT_F1)
        points.append((hits / n_answerable, hits / accepted))
    curve = [(0.0, points[0][1])] + points
    aupr = sum((r1 - r0) * (p0 + p1) / 2 for (r0, p0), (r1, p1) in zip(curve, curve[1:]))
    at80 = [p for r, p in points if r >= 0.8]
    if not at80:
        notes.append("precision_at_80_recall: recall never reaches 80 % in this sample")
    return {"aupr": aupr, "precision_at_80_recall": max(at80) if at80 else None}, notes
