"""Offline loaders, one module per source format; ``LOADERS`` maps ``source.offline.loader`` to one.

Each loader returns ``Loaded``: canonical rows per split (the rows and label ids the Hub version
gives), the files it read, and the label names when the task has a closed label set.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.sources import csv_jsonl, cuad, fpb, ledgar, mbpp, medmcqa
from baseweight_assets.data.sources.loaded import Loaded

LOADERS: dict[str, Callable[[TaskConfig, Path], Loaded]] = {
    "csv": csv_jsonl.load_csv,
    "jsonl": csv_jsonl.load_jsonl,
    "cuad": cuad.load,
    "fpb": fpb.load,
    "ledgar": ledgar.load,
    "mbpp": mbpp.load,
    "medmcqa": medmcqa.load,
}

__all__ = ["LOADERS", "Loaded"]
