"""Error categories: exactly one per scored question, assigned by a fixed priority (first match wins).

classification / multiple choice: api_error > empty > refusal > format_violation > wrong_class > correct
  - api_error: the request failed (row ``error`` set).
  - empty: the output is blank.
  - refusal: no parseable answer AND a refusal phrase (``REFUSAL_PHRASES``, case-insensitive). An output
    that does name a valid answer is scored as that answer even if it hedges ("I can't be sure, but B").
  - format_violation: no parseable answer (see ``parsing``).
  - wrong_class / correct: the parsed answer differs from / equals the gold label.
extraction (CUAD, per question after window aggregation):
  api_error > not_applicable > hallucinated > missed > hallucinated (text) > correct > partial
  - api_error: every window of the question failed.
  - not_applicable: no clause exists and the model abstained (scores 1).
  - hallucinated: answered although no clause exists, OR the answer's normalised text does not occur in
    the window/contract text it was given (checked only when that text is known).
  - missed: abstained although a clause exists (the original mislabelled these as hallucinated).
  - correct: token F1 >= 0.9; partial: any other answer made of real contract text (incl. a wrong span).
code (MBPP): api_error > syntax_error > runtime_error > timeout > wrong_answer > pass (the sandbox status).
"""

from __future__ import annotations

CLASSIFICATION = ("api_error", "empty", "refusal", "format_violation", "wrong_class", "correct")
EXTRACTION = ("api_error", "not_applicable", "hallucinated", "missed", "correct", "partial")
CODE = ("api_error", "syntax_error", "runtime_error", "timeout", "wrong_answer", "pass")

# The categories that count as a right answer (cost per 1k correct, correct share): a correct label, a passing
# program, a correct CUAD extraction or a correct abstention where no clause exists.
SUCCESS = frozenset({"correct", "pass", "not_applicable"})

BY_TASK_TYPE = {
    "classification": CLASSIFICATION,
    "multiple_choice": CLASSIFICATION,
    "extraction": EXTRACTION,
    "code": CODE,
}

REFUSAL_PHRASES = (
    "i cannot", "i can't", "i can not", "i'm not able", "i am not able", "i'm unable", "i am unable",
    "i won't", "i will not", "i refuse", "as an ai", "i don't feel comfortable", "i'm sorry, but i can",
    "sorry, i can",
)


def is_refusal(output: str) -> bool:
    text = output.lower().replace("\u2019", "'")
    return any(phrase in text for phrase in REFUSAL_PHRASES)


def label_category(output: str, error: str | None, parsed: str | None, gold: str) -> str:
    """Category of one classification / multiple-choice row (priority in the module docstring)."""
    if error:
        return "api_error"
    if not output.strip():
        return "empty"
    if parsed is None:
        return "refusal" if is_refusal(output) else "format_violation"
    return "correct" if parsed == gold else "wrong_class"


def count_categories(task_type: str, categories: list[str]) -> dict[str, int]:
    """Counts for every category of the task type (zeros included), in priority order."""
    counts = dict.fromkeys(BY_TASK_TYPE[task_type], 0)
    for category in categories:
        if category not in counts:
            raise ValueError(f"unknown {task_type} category {category!r}")
        counts[category] += 1
    return counts
