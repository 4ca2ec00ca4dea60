"""The one path rule: where every artifact of the benchmark lives.

Everything the pipeline writes lives under the repository (``data/``, ``results/``, ``dashboard-data/``,
``checkpoints/``); the smoke profile writes under a ``smoke/`` segment of each so it can never overwrite real
results. The IO managers and the ``layout`` resource (``defs/resources.LayoutResource``) are built from one
``ProjectPaths``, so no asset builds a path by hand: JSON artifacts follow UPathIOManager's rule
(``<area>/<asset>/<task>[/<variant>].json``) and everything that is not a JSON value (adapter folders, prediction
stores, logs, tables, the site, the spend ledger) has a method here that assets reach through ``layout.paths``.
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

    @property
    def adapters(self) -> Path:
        """Adapter folders, one per content address (``training.cell.adapter_key``)."""
        return self.results / "adapters"

    def prediction_store(self, task: str, variant: str) -> Path:
        return self.results / "prediction_store" / task / f"{variant}.jsonl"

    def cell_log(self, task: str, variant: str, what: str) -> Path:
        return self.results / "logs" / task / f"{variant}.{what}.log"

    @property
    def tables(self) -> Path:
        return self.dashboard / "tables"

    @property
    def site(self) -> Path:
        return self.dashboard / "site"

    @property
    def dashboard_json(self) -> Path:
        return self.dashboard / "dashboard_data.json"

    def main_run(self, run_id: str) -> Path:
        """Logs and summary of one ``baseweight-run``."""
        return self.results / "main_runs" / run_id

    def spend_ledger(self, key: str) -> Path:
        """The API spend ledger ``key`` names (``inference.spend.ledger_key``: a main run, a backfill or one run)."""
        return self.results / "spend" / f"{key}.json"
