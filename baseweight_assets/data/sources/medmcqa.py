"""MedMCQA offline: ``dev.json`` (= HF validation, JSON Lines) and the unlabelled test file.

Rows match HF ``openlifescienceai/medmcqa``: ``cop`` becomes 0-based (the file is 1-based).
The unlabelled test rows are loaded only so their count is checked; they are never evaluated.
"""

from __future__ import annotations

from pathlib import Path

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import field, iter_jsonl, non_empty
from baseweight_assets.data.sources.loaded import Loaded

OPTION_KEYS = ("opa", "opb", "opc", "opd")


def _labelled(path: Path) -> list[dict]:
    rows = []
    for line, row in iter_jsonl(path):
        cop = field(path, line, row, "cop", int)
        if cop not in (1, 2, 3, 4):
            raise DataError(f"{where(path, line, 'cop')}: expected 1-4 (1-based answer), got {cop}")
        out = {"id": non_empty(path, line, row, "id"), "question": non_empty(path, line, row, "question")}
        for key in OPTION_KEYS:
            out[key] = str(field(path, line, row, key, (str, int, float)))
        out.update({
            "cop": cop - 1,
            "choice_type": non_empty(path, line, row, "choice_type"),
            "exp": row.get("exp") or "",
            "subject_name": non_empty(path, line, row, "subject_name"),
            "topic_name": row.get("topic_name") or "",
        })
        rows.append(out)
    return rows


def _unlabelled(path: Path) -> list[dict]:
    rows = []
    for line, row in iter_jsonl(path):
        choices = field(path, line, row, "choices", list)
        if len(choices) != 4:
            raise DataError(f"{where(path, line, 'choices')}: expected 4 options, got {len(choices)}")
        rows.append({"question": non_empty(path, line, row, "question"), "choices": choices})
    return rows


def load(task: TaskConfig, root: Path) -> Loaded:
    files = task.source.offline.files
    paths = {split: root / name for split, name in files.items()}
    splits = {}
    for split, path in paths.items():
        splits[split] = _unlabelled(path) if split.startswith("test_unlabelled") else _labelled(path)
    return Loaded(splits, paths, list(task.labels or ["A", "B", "C", "D"]))
