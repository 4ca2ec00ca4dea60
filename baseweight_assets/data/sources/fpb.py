"""Financial PhraseBank v1.0: latin-1 ``sentence@label`` lines; the agreement level picks the file.

Rows are canonical classification rows ``{"text", "label"}`` with the HF ``takala/financial_phrasebank`` label ids
0=negative, 1=neutral, 2=positive. There is one split, ``train``; the task's ``pools`` carve the test pool from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import read_text
from baseweight_assets.data.sources.loaded import Loaded

LABELS = ["negative", "neutral", "positive"]
FILES = {"50": "Sentences_50Agree.txt", "66": "Sentences_66Agree.txt", "75": "Sentences_75Agree.txt",
         "all": "Sentences_AllAgree.txt"}


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agreement: Literal["50", "66", "75", "all"] = "50"  # share of annotators who agreed; picks the file

    @field_validator("agreement", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return str(value).lower() if isinstance(value, (int, str)) and not isinstance(value, bool) else value


def load(task: TaskConfig, root: Path, options: Options) -> Loaded:
    labels = list(task.labels or LABELS)
    if labels != LABELS:
        raise DataError(f"task {task.id!r}: labels must be {LABELS} (the HF ClassLabel order), got {labels}")
    path = root / FILES[options.agreement]
    rows = []
    for n, line in enumerate(read_text(path, encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        if "@" not in line:
            raise DataError(f"{where(path, n, 'label')}: no '@label' at the end of the line")
        sentence, label = line.rsplit("@", 1)
        label = label.strip()
        if label not in LABELS:
            raise DataError(f"{where(path, n, 'label')}: unknown label {label!r} (expected one of {LABELS})")
        if not sentence.strip():
            raise DataError(f"{where(path, n, 'sentence')}: empty")
        rows.append({"text": sentence.strip(), "label": LABELS.index(label)})
    return Loaded({"train": rows}, {"train": path}, labels, {"agreement": options.agreement})


def from_hub(splits: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The Hub rows name the text ``sentence``."""
    return {name: [{"text": r["sentence"], "label": r["label"]} for r in rows] for name, rows in splits.items()}
