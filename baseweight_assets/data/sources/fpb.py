"""Financial PhraseBank v1.0: latin-1 ``sentence@label`` lines; the agreement level picks the file.

Rows match HF ``takala/financial_phrasebank``: ``{"sentence", "label"}`` with 0=negative,
1=neutral, 2=positive. There is one split, ``train``; the 85/15 split is made in preparation.
"""

from __future__ import annotations

from pathlib import Path

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError, where
from baseweight_assets.data.sources.common import read_text
from baseweight_assets.data.sources.loaded import Loaded

LABELS = ["negative", "neutral", "positive"]
FILES = {"50": "Sentences_50Agree.txt", "66": "Sentences_66Agree.txt", "75": "Sentences_75Agree.txt",
         "all": "Sentences_AllAgree.txt"}


def load(task: TaskConfig, root: Path) -> Loaded:
    agreement = str(task.source.offline.options.get("agreement", "50")).lower()
    if agreement not in FILES:
        raise DataError(f"task {task.id!r}: source.offline.options.agreement must be one of {list(FILES)}, got {agreement!r}")
    labels = list(task.labels or LABELS)
    if labels != LABELS:
        raise DataError(f"task {task.id!r}: labels must be {LABELS} (the HF ClassLabel order), got {labels}")
    path = root / FILES[agreement]
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
        rows.append({"sentence": sentence.strip(), "label": LABELS.index(label)})
    return Loaded({"train": rows}, {"train": path}, labels, {"agreement": agreement})
