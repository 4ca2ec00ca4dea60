"""``baseweight-run``: materialize the whole graph for a set of models, stage by stage.

One Dagster run covers one partitions definition, so the main job is a dependency-ordered series
of runs (the same thing an asset backfill launches), recorded in the repo's own instance so that
``dagster dev`` shows every run, partition and check. A failed partition does not stop the others;
its dependents are skipped and listed at the end.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import dagster as dg

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.defs.settings import Settings
from baseweight_assets.paths import ProjectPaths
from baseweight_assets.variants import api_variants, local_variants, lora_variants, split_variant


MAIN_RUN_TAG = "baseweight/main_run"


@dataclass(frozen=True)
class Step:
    assets: tuple[str, ...]
    partition: str | None  # "task" or "task|variant" (Dagster's multi-key string order) or None
    needs: tuple[tuple[str, str | None], ...] = field(default=())  # (asset, partition) that must have succeeded

    @property
    def label(self) -> str:
        return f"{'+'.join(self.assets)}[{self.partition or 'all'}]"


def plan_steps(settings: Settings, models: list[str], tasks: list[str]) -> list[list[Step]]:
    """Stages of steps; steps inside a stage are independent of each other."""
    bench = load_bench_config(settings.config_dir, settings.prompts_dir)
    wanted = lambda vs: [v for v in vs if split_variant(v)[0] in models]  # noqa: E731
    lora, local, api = wanted(lora_variants(bench)), wanted(local_variants(bench)), wanted(api_variants(bench))
    key = lambda t, v: f"{t}|{v}"  # noqa: E731
    stages: list[list[Step]] = [
        [Step(("raw_dataset", "prepared_splits"), t) for t in tasks],
        [Step(("lora_adapter",), key(t, v), (("prepared_splits", t),)) for t in tasks for v in lora],
        [
            Step(("local_predictions",), key(t, v),
                 (("prepared_splits", t),) + ((("lora_adapter", key(t, v)),) if v in lora else ()))
            for t in tasks for v in local
        ]
        + [Step(("api_predictions",), key(t, v), (("prepared_splits", t),)) for t in tasks for v in api],
        [
            Step(("scores",), key(t, v), (("local_predictions" if v in local else "api_predictions", key(t, v)),))
            for t in tasks for v in local + api
        ],
        [Step(("task_summary",), t) for t in tasks],
        [Step(("dashboard_data", "dashboard_site"), None)],
    ]
    return stages


@lru_cache(maxsize=1)
def _worker_definitions() -> dg.Definitions:
    """Built once per worker process, not once per step: configs and the graph do not change mid-run."""
    return build_definitions(Settings.from_env())


def _materialize(step: Step) -> tuple[str, bool, float, str]:
    """Run one step in this process against the repo's instance (DAGSTER_HOME)."""
    start = time.monotonic()
    defs = _worker_definitions()
    try:
        result = dg.materialize(
            assets=[*defs.assets, *defs.asset_checks],
            selection=list(step.assets),
            partition_key=step.partition,
            resources=defs.resources,
            instance=dg.DagsterInstance.get(),
            tags={MAIN_RUN_TAG: "1"},
            raise_on_error=False,
        )
        ok = result.success
        error = "" if ok else _first_failure(result)
    except Exception as exc:  # a definition/selection error: report it, keep going
        ok, error = False, f"{type(exc).__name__}: {exc}"
    return step.label, ok, time.monotonic() - start, error


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:  # the user code's own exception is at the bottom of the chain
                error = error.cause
            return error.message.strip()[:800]
    return "run failed (see the Dagster UI for the run's logs)"


@contextmanager
def single_main_run(instance: dg.DagsterInstance) -> Iterator[list[str]]:
    """Hold an exclusive lock for the whole main run; while holding it, any main-run run still marked
    STARTED is an orphan of a killed main run: mark it failed and release its pool slots and queue
    places (a dead pending step would otherwise sit ahead of every new one)."""
    lock_path = Path(instance.root_directory) / "baseweight-main-run.lock"
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another baseweight-run holds {lock_path}; wait for it or stop it") from None
        orphans = instance.get_runs(filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED],
            tags={MAIN_RUN_TAG: "1"},
        ))
        for run in orphans:
            instance.report_run_failed(run, message="orphaned: the baseweight-run process that owned it died")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        yield [run.run_id for run in orphans]


def size_pools(instance: dg.DagsterInstance, settings: Settings, workers: int) -> dict[str, int]:
    """Pool limits from configs/deployment.yaml, with ``gpu`` sized to this host: one slot per accelerator,
    or on a CPU-only host one per worker process (the CPU is the device there; each local step pins a core)."""
    from baseweight_assets.config.deployment import load_deployment_config
    from baseweight_assets.defs.executors import ensure_pool_limits
    from baseweight_assets.hardware import accelerator_count

    deployment = load_deployment_config(settings.config_dir)
    # The workers are forked from this process: count the GPUs without initialising CUDA here.
    gpus = accelerator_count()
    sized = deployment.model_copy(update={"pools": {**deployment.pools, "gpu": gpus or max(1, workers)}})
    return ensure_pool_limits(instance, sized)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baseweight-run", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="model ids (default: run_defaults.default_models)")
    parser.add_argument("--tasks", nargs="*", help="task ids (default: every configs/tasks/*.yaml)")
    parser.add_argument("--workers", type=int, default=2, help="partitions materialized in parallel")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    bench = load_bench_config(settings.config_dir, settings.prompts_dir)
    models = args.models or bench.run.default_models
    tasks = args.tasks or list(bench.tasks)
    for name in models:
        if name not in bench.models:
            parser.error(f"unknown model {name!r}; known: {sorted(bench.models)}")
    for name in tasks:
        if name not in bench.tasks:
            parser.error(f"unknown task {name!r}; known: {sorted(bench.tasks)}")

    paths = ProjectPaths(settings.repo_root, settings.profile)
    instance = dg.DagsterInstance.get()
    with single_main_run(instance) as orphans:
        if orphans:
            print(f"[baseweight] marked {len(orphans)} orphaned run(s) of a killed main run as failed")
        pools = size_pools(instance, settings, args.workers)
        print(f"[baseweight] profile={settings.profile} models={models} tasks={tasks} data={settings.data_root} "
              f"workers={args.workers} pools={pools}")
        return _run_stages(settings, paths, models, tasks, args.workers)


def _run_stages(settings: Settings, paths: ProjectPaths, models: list[str], tasks: list[str], workers: int) -> int:
    started = time.monotonic()
    done: set[tuple[str, str | None]] = set()
    failed: list[tuple[str, str]] = []
    skipped: list[str] = []
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for stage in plan_steps(settings, models, tasks):
            runnable = []
            for step in stage:
                if all(need in done for need in step.needs):
                    runnable.append(step)
                else:
                    skipped.append(step.label)
            for step, (label, ok, seconds, error) in zip(runnable, pool.map(_materialize, runnable)):
                print(f"[baseweight] {'ok  ' if ok else 'FAIL'} {label} ({seconds:.1f}s){'  ' + error if error else ''}")
                if ok:
                    done.update((asset, step.partition) for asset in step.assets)
                else:
                    failed.append((label, error))
    elapsed = time.monotonic() - started
    summary = {
        "profile": settings.profile,
        "wall_time_s": round(elapsed, 1),
        "dashboard_json": str(paths.dashboard / "dashboard_data.json"),
        "site": str(paths.dashboard / "site" / "index.html"),
        "tables": str(paths.dashboard / "tables"),
        "failed": failed,
        "skipped_after_failure": skipped,
    }
    print(json.dumps(summary, indent=2))
    print(f"[baseweight] finished in {elapsed / 60:.1f} min; open {summary['site']}")
    return 1 if failed or skipped else 0


if __name__ == "__main__":
    sys.exit(main())
