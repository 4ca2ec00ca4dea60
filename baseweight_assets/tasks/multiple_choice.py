"""Multiple choice: a question, lettered options, one right letter; the answer may follow a short reasoning.

Canonical row: ``{"question", "options": [text, ...], "answer": 0-based index, "explanation": str (may be ""),
"group": stratum, "meta": {...}}``. Example: fields ``{"question", "options": {letter: text}}`` with the task's
labels as letters, gold = the right letter, target = the explanation (whitespace collapsed, cut at
``MAX_EXPLANATION_CHARS`` on a word boundary) then ``<answer>X</answer>``; ``meta`` = the row's meta plus
``explanation_chars`` (a pool rule's ``min_meta`` can require a real explanation for training targets). Decoding is
not constrained (the reasoning is free text); ``scoring.parsing.parse_choice`` reads the letter. Scoring, categories
and secondary metrics are those of classification.
"""

from __future__ import annotations

from collections.abc import Callable

from baseweight_assets.data.examples import make
from baseweight_assets.scoring.parsing import parse_choice
from baseweight_assets.tasks.classification import ClassificationKind

MAX_EXPLANATION_CHARS = 1400


def truncate_words(text: str, limit: int) -> str:
    """Whitespace collapsed; when longer than ``limit``, cut at the last word boundary before it, then " ..."."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


class MultipleChoiceKind(ClassificationKind):
    name = "multiple_choice"

    def example(self, task_id: str, row: dict, labels: list[str] | None) -> dict:
        letters = list(labels or "ABCD")
        letter = letters[row["answer"]]
        options = {letters[i]: text for i, text in enumerate(row["options"])}
        exp = truncate_words(row.get("explanation") or "", MAX_EXPLANATION_CHARS)
        target = f"{exp}\n<answer>{letter}</answer>" if exp else f"<answer>{letter}</answer>"
        meta = {**(row.get("meta") or {}), "explanation_chars": len(exp)}
        return make(task_id, row["group"], {"question": row["question"], "options": options}, target, letter, meta)

    def allowed_outputs(self, task, labels):
        return None

    def parser(self, labels: list[str] | None) -> Callable[[str], str | None]:
        letters = "".join(labels or "ABCD")
        return lambda output: parse_choice(output, letters)
