"""CUAD scoring: window aggregation, SQuAD v2 token F1, answer detection and confidence-ranked metrics.

Window aggregation (``aggregate_windows``), per question over its windows in window order:
  1. Windows with an API error are dropped; if none is left the question is an ``api_error``.
  2. Each window's output is parsed (``parsing.parse_extraction``): an answer, or "" (abstention).
  3. No answering window -> the question abstains. No abstaining window -> the answering window with the
     highest ``avg_logprob`` wins (ties, or no log-probabilities: the most frequent answer, then the
     earliest window).
  4. Answers and abstentions both present, every window has ``avg_logprob``: the most confident answer
     wins only if its ``avg_logprob`` is strictly higher than the MEAN ``avg_logprob`` of the abstaining
     windows (the abstentions' evidence); otherwise the question abstains.
  5. Answers and abstentions both present, some log-probability missing: majority vote -- the question
     is answered only if strictly more windows answer than abstain (then by the most frequent answer,
     earliest window first); a tie or an abstaining majority abstains.
  So one hallucinating window never overrides eleven abstentions unless it is more confident than they are.
Token F1 is the official SQuAD v2 definition (lower case, drop punctuation, drop a/an/the, collapse
whitespace; multiset token overlap; both empty = 1, one empty = 0), maximised over the gold spans; an
absent clause (no gold span) scores 1 for an abstention and 0 for any answer.
Confidence-ranked metrics (CUAD paper style): questions sorted by ``avg_logprob`` descending (stable);
walking down, each ANSWERED question is accepted; a hit is an accepted question whose clause exists and
whose token F1 >= 0.5. recall = hits / #questions with a clause, precision = hits / #accepted. AUPR is
the trapezoid area over recall with the point (0, first precision) prepended; precision@80% recall is
the highest precision at recall >= 0.8. Both are None (with a note) when any answered question lacks a
log-probability, or no question has one: ranking them arbitrarily would invent a number.
"""

from __future__ import annotations

import re
import string
from collections import Counter

from baseweight_assets.scoring.parsing import parse_extraction

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
    """Max SQuAD v2 F1 over the gold spans; ``golds == []`` means the clause is absent (gold "")."""
    return max(_f1(g, pred) for g in (golds or [""]))


def in_context(answer: str, context: str) -> bool:
    """Whether the answer's normalised tokens occur contiguously in the normalised context."""
    norm = normalize_answer(answer)
    return bool(norm) and f" {norm} " in f" {normalize_answer(context)} "


def _most_frequent_first(windows: list[dict]) -> dict:
    counts = Counter(normalize_answer(w["answer"]) for w in windows)
    top = max(counts.values())
    return next(w for w in windows if counts[normalize_answer(w["answer"])] == top)


def aggregate_windows(rows: list[dict]) -> dict:
    """One question's window rows -> {"answer", "avg_logprob", "error", "window_id", "n_windows", "rule"}."""
    ok = [r for r in rows if not r.get("error")]
    base = {"n_windows": len(rows), "error": None}
    if not ok:
        return {**base, "answer": "", "avg_logprob": None, "window_id": None, "rule": "all_windows_failed",
                "error": next((r["error"] for r in rows if r.get("error")), "no prediction rows")}
    windows = [{"id": r.get("id"), "answer": parse_extraction(r.get("output") or ""),
                "conf": r.get("avg_logprob")} for r in ok]
    answers = [w for w in windows if w["answer"]]
    abstains = [w for w in windows if not w["answer"]]
    have_conf = all(isinstance(w["conf"], (int, float)) for w in windows)

    def pick(w: dict, rule: str) -> dict:
        return {**base, "answer": w["answer"], "avg_logprob": w["conf"], "window_id": w["id"], "rule": rule}

    if not answers:
        conf = sum(w["conf"] for w in abstains) / len(abstains) if have_conf else None
        return {**base, "answer": "", "avg_logprob": conf, "window_id": None, "rule": "all_abstained"}
    if have_conf:
        best = max(answers, key=lambda w: w["conf"])  # max() keeps the earliest of equal confidences
        if not abstains:
            return pick(best, "most_confident_answer")
        evidence = sum(w["conf"] for w in abstains) / len(abstains)
        if best["conf"] > evidence:
            return pick(best, "answer_beats_abstentions")
        return {**base, "answer": "", "avg_logprob": evidence, "window_id": None, "rule": "abstentions_more_confident"}
    if len(answers) > len(abstains):
        return pick(_most_frequent_first(answers), "majority_answered")
    return {**base, "answer": "", "avg_logprob": None, "window_id": None, "rule": "majority_abstained"}


def category(answer: str, golds: list[str], f1: float, context: str | None, error: str | None) -> str:
    """Extraction category (priority documented in ``categories``)."""
    if error:
        return "api_error"
    if not golds:
        return "not_applicable" if not answer else "hallucinated"
    if not answer:
        return "missed"
    if context is not None and not in_context(answer, context):
        return "hallucinated"
    return "correct" if f1 >= CORRECT_F1 else "partial"


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
