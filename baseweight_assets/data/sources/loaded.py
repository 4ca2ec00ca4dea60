"""What an offline loader returns, and the options model of a loader that takes none."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict


@dataclass
class Loaded:
    """Canonical rows of the task's kind per split (``baseweight_assets.tasks``), the files read, the label names
    when the task has a closed label set, and anything the loader wants in the raw report."""

    splits: dict[str, list[dict]]
    files: dict[str, Path]
    labels: list[str] | None = None
    report: dict = field(default_factory=dict)


class NoOptions(BaseModel):
    """A loader without options: any key under ``source.offline.options`` is a typo."""

    model_config = ConfigDict(extra="forbid", frozen=True)
