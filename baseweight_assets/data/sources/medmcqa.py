"""MedMCQA offline: ``dev.json`` (= HF validation, JSON Lines) and the unlabelled test file.

Labelled rows become canonical multiple-choice rows ``{"question", "options": [4 texts], "answer": 0-based index,
"explanation", "group": subject, "choice_type", "meta": {"subject", "topic", "source_id", "offline_split"}}``
(the file's ``cop`` is 1-based, HF's 0-based). ``choice_type`` ("single"/"multi") stays on the row so the task's
``keep_rows`` can keep single-answer questions. The unlabelled test rows are loaded only so their count is
checked; they are never evaluated.
"""

from __future__ import annotations

from pathlib import Path

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import field, iter_jsonl, non_empty
from baseweight_assets.data.sources.loaded import Loaded, NoOptions

OPTION_KEYS = ("opa", "opb", "opc", "opd")


def _canonical(row: dict, answer: int) -> dict:
    return {"question": row["question"], "options": [str(row[k]) for k in OPTION_KEYS], "answer": answer,
            "explanation": row.get("exp") or "", "group": row["subject_name"], "choice_type": row["choice_type"],
            "meta": {"subject": row["subject_name"], "topic": row.get("topic_name") or "", "source_id": row["id"],
                     "offline_split": True}}


def _labelled(path: Path) -> list[dict]:
    rows = []
    for line, row in iter_jsonl(path):
        cop = field(path, line, row, "cop", int)
        if cop not in (1, 2, 3, 4):
            raise DataError(f"{where(path, line, 'cop')}: expected 1-4 (1-based answer), got {cop}")
        for name in ("id", "question", "choice_type", "subject_name"):
            non_empty(path, line, row, name)
        for key in OPTION_KEYS:
            field(path, line, row, key, (str, int, float))
        rows.append(_canonical(row, cop - 1))
    return rows


def _unlabelled(path: Path) -> list[dict]:
    rows = []
    for line, row in iter_jsonl(path):
        choices = field(path, line, row, "choices", list)
        if len(choices) != 4:
            raise DataError(f"{where(path, line, 'choices')}: expected 4 options, got {len(choices)}")
        rows.append({"question": non_empty(path, line, row, "question"), "choices": choices})
    return rows


def load(task: TaskConfig, root: Path, options: NoOptions) -> Loaded:
    files = task.source.offline.files
    paths = {split: root / name for split, name in files.items()}
    splits = {}
    for split, path in paths.items():
        splits[split] = _unlabelled(path) if split.startswith("test_unlabelled") else _labelled(path)
    return Loaded(splits, paths, list(task.labels or ["A", "B", "C", "D"]))


def from_hub(splits: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """HF rows carry the 0-based ``cop``."""
    return {name: [_canonical(r, r["cop"]) for r in rows] for name, rows in splits.items()}
