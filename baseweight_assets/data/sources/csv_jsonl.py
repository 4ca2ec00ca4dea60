"""Generic classification loader: one CSV or JSONL file per split with a text and a label column.

Rows become canonical classification rows ``{"text", "label"}`` with ``label`` the index into the label names: the task's
``labels`` when set (an unknown label is an error), else the distinct names sorted case-insensitively,
which is the Hugging Face ClassLabel order (BANKING77: card_arrival = 11, Refund_not_showing_up = 51).
"""

from __future__ import annotations

from pathlib import Path

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import iter_jsonl, non_empty, read_csv
from baseweight_assets.data.sources.loaded import Loaded, NoOptions


def _fields(task: TaskConfig) -> tuple[str, str]:
    off = task.source.offline
    if not off.text_field or not off.label_field or not off.files:
        raise DataError(
            f"task {task.id!r}: source.offline needs text_field, label_field and files for the "
            f"{off.loader!r} loader"
        )
    return off.text_field, off.label_field


def _build(task: TaskConfig, root: Path, records: dict[str, list[tuple[Path, int, dict]]]) -> Loaded:
    text_field, label_field = _fields(task)
    parsed: dict[str, list[tuple[Path, int, str, str]]] = {}
    for split, rows in records.items():
        out = []
        for path, line, row in rows:
            text = non_empty(path, line, row, text_field)
            label = row.get(label_field)
            if label is None or (isinstance(label, str) and not label.strip()):
                raise DataError(f"{where(path, line, label_field)}: missing or empty label")
            out.append((path, line, text, str(label).strip()))
        parsed[split] = out
    # HF ClassLabel order for BANKING77 is case-insensitive ("Refund_not_showing_up" sits at 51)
    names = {lab for rows in parsed.values() for *_, lab in rows}
    labels = list(task.labels) if task.labels else sorted(names, key=lambda n: (n.casefold(), n))
    index = {name: i for i, name in enumerate(labels)}
    splits = {}
    for split, rows in parsed.items():
        out = []
        for path, line, text, label in rows:
            if label not in index:
                raise DataError(f"{where(path, line, label_field)}: unknown label {label!r} (known: {labels[:10]}...)")
            out.append({"text": text, "label": index[label]})
        splits[split] = out
    return Loaded(splits, {s: root / f for s, f in task.source.offline.files.items()}, labels)


def load_csv(task: TaskConfig, root: Path, options: NoOptions) -> Loaded:
    _, label_field = _fields(task)
    text_field = task.source.offline.text_field
    records = {}
    for split, name in task.source.offline.files.items():
        path = root / name
        records[split] = [(path, line, row) for line, row in read_csv(path, [text_field, label_field])]
    return _build(task, root, records)


def load_jsonl(task: TaskConfig, root: Path, options: NoOptions) -> Loaded:
    _fields(task)
    records = {}
    for split, name in task.source.offline.files.items():
        path = root / name
        records[split] = [(path, line, row) for line, row in iter_jsonl(path)]
    return _build(task, root, records)
