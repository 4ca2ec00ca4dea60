"""LEDGAR (LexGLUE) offline subset: ``{"text", "label", "label_name"}`` JSONL plus the 100 names.

Rows are canonical classification rows ``{"text", "label"}``; ``label`` is the index into the sorted names (the
lex_glue ClassLabel order); a row whose ``label_name`` disagrees with its index is rejected rather than trusted.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import field, iter_jsonl, non_empty, read_text
from baseweight_assets.data.sources.loaded import Loaded


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label_names: str = "ledgar_label_names.json"  # JSON list of the label names, inside the task's folder


def load(task: TaskConfig, root: Path, options: Options) -> Loaded:
    off = task.source.offline
    names_path = root / options.label_names
    try:
        labels = json.loads(read_text(names_path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{where(names_path, exc.lineno)}: not valid JSON ({exc.msg})") from None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise DataError(f"{names_path}: expected a JSON list of label names")
    splits, files = {}, {"label_names": names_path}
    for split, name in off.files.items():
        path = root / name
        files[split] = path
        rows = []
        for line, row in iter_jsonl(path):
            text = non_empty(path, line, row, "text")
            label = field(path, line, row, "label", int)
            if not 0 <= label < len(labels):
                raise DataError(f"{where(path, line, 'label')}: unknown label id {label} ({len(labels)} names)")
            if "label_name" in row and row["label_name"] != labels[label]:
                raise DataError(
                    f"{where(path, line, 'label_name')}: {row['label_name']!r} disagrees with label {label} "
                    f"= {labels[label]!r}"
                )
            rows.append({"text": text, "label": label})
        splits[split] = rows
    return Loaded(splits, files, labels)
