from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Loaded:
    splits: dict[str, list[dict]]
    files: dict[str, Path]
    labels: list[str] | None = None
    report: dict = field(default_factory=dict)
