"""Error categories: exactly one per sampled question, decided in a fixed order (first match wins).

Every task type starts the same way:
  - missing: the question has no prediction row, or a request of it failed (row ``error`` set; for CUAD any
    window). Its answer is unknown: ``score`` counts it here and leaves it out of every metric.
  - a success category (``SUCCESS``) when the answer is right; a success is never relabelled below.
  - truncated: the output stopped at the token limit (``finish_reason == "length"``; CUAD: any window) and
    the answer is not a success. It explains the failure better than what the cut text looks like.

classification / multiple choice: missing > correct > truncated > empty > refusal > format_violation > wrong_class
  - empty: the output is blank (never a success, never a refusal).
  - refusal: no parseable answer AND a refusal phrase (``REFUSAL_PHRASES``, case-insensitive). An output
    that does name a valid answer is scored as that answer even if it hedges ("I can't be sure, but B"
    for multiple choice; closed labels reject hedges, see ``parsing``).
  - format_violation: no parseable answer (see ``parsing``).
  - wrong_class / correct: the parsed answer differs from / equals the gold label.
extraction (CUAD, per question after window aggregation, see ``extraction``):
  missing > not_applicable > correct > truncated > empty > missed > hallucinated > partial > wrong_span
  - not_applicable: no clause exists and every window abstained (a success).
  - correct: a clause exists, multi-span F1 >= 0.9 and every span is contract text (a success).
  - empty: no window found a span and some window's output was blank (or only list markers and
    quotes). Never an abstention: a blank answer does not say "no clause".
  - missed: every window abstained although a clause exists.
  - hallucinated: spans although no clause exists, OR a span whose normalised text occurs in none of the
    question's windows (checked only when the window text is known).
  - partial: some predicted span shares a SQuAD-normalised token with a gold span (multi-span F1 > 0);
    wrong_span: real contract text with no token in common with any gold span.
code (MBPP): missing > pass > truncated > syntax_error > runtime_error > timeout > wrong_answer (sandbox status).
``count_categories`` lists the counts with failures first and successes last (the tuples below; each task kind in
``baseweight_assets.tasks`` names its tuple).
"""

from __future__ import annotations

CLASSIFICATION = ("missing", "truncated", "empty", "refusal", "format_violation", "wrong_class", "correct")
EXTRACTION = ("missing", "truncated", "empty", "missed", "hallucinated", "wrong_span", "partial",
              "not_applicable", "correct")
CODE = ("missing", "truncated", "syntax_error", "runtime_error", "timeout", "wrong_answer", "pass")

# The categories that count as a right answer (cost per 1k correct, correct share): a correct label, a passing
# program, a correct CUAD extraction or a correct abstention where no clause exists.
SUCCESS = frozenset({"correct", "pass", "not_applicable"})

REFUSAL_PHRASES = (
    "i cannot", "i can't", "i can not", "i'm not able", "i am not able", "i'm unable", "i am unable",
    "i won't", "i will not", "i refuse", "as an ai", "i don't feel comfortable", "i'm sorry, but i can",
    "sorry, i can",
)


def is_refusal(output: str) -> bool:
    text = output.lower().replace("\u2019", "'")
    return any(phrase in text for phrase in REFUSAL_PHRASES)


def is_truncated(row: dict) -> bool:
    """The row's generation stopped at the token limit."""
    return row.get("finish_reason") == "length"


def label_category(output: str, error: str | None, parsed: str | None, gold: str,
                   finish_reason: str | None = None) -> str:
    """Category of one classification / multiple-choice row (order in the module docstring)."""
    if error is not None:
        return "missing"
    if parsed is not None and parsed == gold:
        return "correct"
    if finish_reason == "length":
        return "truncated"
    if not output.strip():
        return "empty"
    if parsed is None:
        return "refusal" if is_refusal(output) else "format_violation"
    return "wrong_class"


def code_category(status: str, finish_reason: str | None = None) -> str:
    """Category of one MBPP sample from its sandbox status (order in the module docstring)."""
    if status != "pass" and finish_reason == "length":
        return "truncated"
    return status


def count_categories(order: tuple[str, ...], categories: list[str], kind: str = "") -> dict[str, int]:
    """Counts for every category in ``order`` (a kind's ``categories``, zeros included), in that order."""
    counts = dict.fromkeys(order, 0)
    for category in categories:
        if category not in counts:
            raise ValueError(f"unknown {kind + ' ' if kind else ''}category {category!r} (known: {list(order)})")
        counts[category] += 1
    return counts
