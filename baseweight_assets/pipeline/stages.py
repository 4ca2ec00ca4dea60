"""The stage registry: every asset of the graph declared once.

A ``Stage`` says what one asset is: its key, its partitions (a ``PartitionSpace`` attribute), the concurrency pool
it draws from, whether it needs a GPU or runs untrusted generated code (which decides its Kubernetes pod), whether
its artifacts sync to the Hugging Face Hub, the stage job that backfills it from the CLI, its group and IO manager,
and the builder that turns the declaration into Dagster definitions. Everything else is derived from this list and
from ``Definitions.resolve_asset_graph()``: the assets and their decorator arguments, the stage jobs, the Hub layout,
the CI chain and the main job's backfill plan. A stage left out here is not run anywhere; one added here is run
everywhere (``tests/wiring/test_stage_registry.py`` adds one).

Pure: no Dagster import. ``builder`` is a ``"module:function"`` string resolved lazily by the wiring, so this module
stays importable without the heavy dependencies of any stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PartitionsName = Literal["task", "task_x_lora", "task_x_local", "task_x_api"]
IoManager = Literal["data_io", "results_io", "dashboard_io"]


@dataclass(frozen=True)
class Stage:
    key: str
    job: str
    group: str
    builder: str
    partitions: PartitionsName | None = None
    io_manager: IoManager = "results_io"
    pool: str | None = None
    gpu: bool = False
    sandbox: bool = False
    hub_sync: bool = False
    observed: bool = False  # an observable source (an input file), observed rather than materialized
    record: str | None = None  # the record of its value in pipeline/records.py, checked by the IO manager on write

    @property
    def materialized(self) -> bool:
        return not self.observed


_DEFS = "baseweight_assets.defs.assets"

STAGES: tuple[Stage, ...] = (
    # Inputs that live in files: observed, so an edit marks exactly its dependents stale.
    Stage("task_config", "observe_task_sources", "configs", f"{_DEFS}.config_sources:build_task_config",
          "task", observed=True),
    Stage("prompt_template", "observe_task_sources", "configs", f"{_DEFS}.config_sources:build_prompt_template",
          "task", observed=True),
    Stage("training_config", "observe_training_configs", "configs",
          f"{_DEFS}.config_sources:build_training_config", "task_x_lora", observed=True),
    # The graph, in dependency order.
    Stage("raw_dataset", "prepare_data", "data", f"{_DEFS}.data:build_raw_dataset", "task", "data_io",
          record="RawDataset"),
    Stage("prepared_splits", "prepare_data", "data", f"{_DEFS}.data:build_prepared_splits", "task", "data_io",
          hub_sync=True, record="PreparedSplits"),
    Stage("lora_adapter", "train_adapters", "training", f"{_DEFS}.training:build_lora_adapter", "task_x_lora",
          pool="gpu", gpu=True, hub_sync=True, record="LoraAdapter"),
    Stage("local_predictions", "predict_local", "predictions", f"{_DEFS}.predictions:build_local_predictions",
          "task_x_local", pool="gpu", gpu=True, hub_sync=True, record="Predictions"),
    Stage("api_predictions", "predict_api", "predictions", f"{_DEFS}.predictions:build_api_predictions",
          "task_x_api", pool="api", hub_sync=True, record="Predictions"),
    # Scores share their predictions' partitions, so one run materializes a cell's predictions and its scores.
    Stage("local_scores", "score_local", "scoring", f"{_DEFS}.scoring:build_scores", "task_x_local",
          sandbox=True, hub_sync=True, record="Scores"),
    Stage("api_scores", "score_api", "scoring", f"{_DEFS}.scoring:build_scores", "task_x_api",
          sandbox=True, hub_sync=True, record="Scores"),
    Stage("task_summary", "summarize", "report", f"{_DEFS}.report:build_task_summary", "task", hub_sync=True,
          record="TaskSummary"),
    Stage("dashboard_data", "publish_dashboard", "report", f"{_DEFS}.report:build_dashboard_data",
          io_manager="dashboard_io", hub_sync=True, record="DashboardData"),
    Stage("dashboard_site", "publish_dashboard", "report", f"{_DEFS}.report:build_dashboard_site",
          io_manager="dashboard_io", record="DashboardSite"),
)


def stage(key: str, stages: tuple[Stage, ...] = STAGES) -> Stage:
    for s in stages:
        if s.key == key:
            return s
    raise KeyError(f"no stage {key!r} in the registry (known: {[s.key for s in stages]})")


def materialized(stages: tuple[Stage, ...] = STAGES) -> tuple[Stage, ...]:
    return tuple(s for s in stages if s.materialized)


def synced_assets(stages: tuple[Stage, ...] = STAGES) -> tuple[str, ...]:
    """Assets whose artifacts go to the Hub (raw_dataset stays local: it is a copy of the licensed source)."""
    return tuple(s.key for s in stages if s.hub_sync)


def jobs(stages: tuple[Stage, ...] = STAGES) -> dict[str, tuple[Stage, ...]]:
    """Stage job name -> its stages, in registry order. A job covers one partitions definition (Dagster's rule)."""
    out: dict[str, list[Stage]] = {}
    for s in stages:
        out.setdefault(s.job, []).append(s)
    for name, members in out.items():
        kinds = {(m.partitions, m.observed) for m in members}
        if len(kinds) != 1:
            raise ValueError(f"stage job {name!r} mixes partitions/kinds {sorted(map(str, kinds))}")
    return {name: tuple(members) for name, members in out.items()}


def validate(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    keys = [s.key for s in stages]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"stage registry: duplicate asset keys {duplicates}")
    for s in stages:
        if ":" not in s.builder:
            raise ValueError(f"stage {s.key!r}: builder must be 'module:function', got {s.builder!r}")
    jobs(stages)
    return stages
