"""Where inputs are read from and artifacts are written to.

Everything the pipeline writes lives under the repository (``data/``, ``results/``,
``dashboard-data/``); the smoke profile writes under a ``smoke/`` segment of each so it can
never overwrite real results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("smoke", "full")


@dataclass(frozen=True)
class ProjectPaths:
    repo_root: Path
    profile: str = "smoke"

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")

    def _area(self, name: str) -> Path:
        base = self.repo_root / name
        return base / "smoke" if self.profile == "smoke" else base

    @property
    def data(self) -> Path:
        return self._area("data")

    @property
    def results(self) -> Path:
        return self._area("results")

    @property
    def dashboard(self) -> Path:
        return self._area("dashboard-data")

    @property
    def checkpoints(self) -> Path:
        return self._area("checkpoints")

    @property
    def cache(self) -> Path:
        return self.repo_root / ".cache"

    @property
    def models_cache(self) -> Path:
        return self.cache / "models"
