"""MBPP (full) from ``mbpp.jsonl``, split by task_id as the MBPP README and HF ``full`` do.

Rows are canonical code rows ``{"text", "code", "test_list", "test_setup_code", "meta": {"task_id",
"challenge_test_list"}}``, each split in task_id order.
"""

from __future__ import annotations

from pathlib import Path

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import field, iter_jsonl, non_empty
from baseweight_assets.data.sources.loaded import Loaded, NoOptions

SPLIT_RANGES = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}


def split_of(task_id: int) -> str | None:
    for name, (lo, hi) in SPLIT_RANGES.items():
        if lo <= task_id <= hi:
            return name
    return None


def _canonical(row: dict, text: str, code: str, tests: list[str], setup: str) -> dict:
    return {"text": text, "code": code, "test_list": tests, "test_setup_code": setup,
            "meta": {"task_id": row["task_id"], "challenge_test_list": row.get("challenge_test_list") or []}}


def load(task: TaskConfig, root: Path, options: NoOptions) -> Loaded:
    path = root / task.source.offline.files.get("all", "mbpp.jsonl")
    splits: dict[str, list[dict]] = {name: [] for name in SPLIT_RANGES}
    seen: dict[int, int] = {}
    for line, row in iter_jsonl(path):
        task_id = field(path, line, row, "task_id", int)
        if task_id in seen:
            raise DataError(f"{where(path, line, 'task_id')}: duplicate {task_id} (first on row {seen[task_id]})")
        seen[task_id] = line
        tests = field(path, line, row, "test_list", list)
        if not tests or not all(isinstance(t, str) and t.strip().startswith("assert") for t in tests):
            raise DataError(f"{where(path, line, 'test_list')}: expected a non-empty list of assert strings")
        split = split_of(task_id)
        if split is None:
            raise DataError(f"{where(path, line, 'task_id')}: {task_id} outside 1..974")
        splits[split].append(_canonical(row, non_empty(path, line, row, "text"), non_empty(path, line, row, "code"),
                                        tests, field(path, line, row, "test_setup_code")))
    for rows in splits.values():
        rows.sort(key=lambda r: r["meta"]["task_id"])
    return Loaded(splits, {"all": path})


def from_hub(splits: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {name: [_canonical(r, r["text"], r["code"], list(r["test_list"]), r["test_setup_code"]) for r in rows]
            for name, rows in splits.items()}
