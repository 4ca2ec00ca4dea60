"""``baseweight-run``: the main job, as a Dagster asset backfill run by Dagster's own daemon and run launcher.

It starts the repo instance's services (code server, the UI on http://127.0.0.1:3000, the daemon), launches the
same backfill the UI's "Materialize" launches (GraphQL ``launchPartitionBackfill``) over every stage in the registry
for the chosen tasks and models, shows progress until it finishes, then lists what failed, what was not run because
an upstream partition failed, artifacts whose Hub push failed, where the outputs are, and the share of the runs'
time spent outside asset steps.
Runs queue under the instance's run limit (``.dagster_home/dagster.yaml``) and pools (``configs/deployment.yaml``).

Killing it and running it again resumes: the plan targets only partitions the instance does not hold yet, and
runs or backfills orphaned by the kill are marked failed/canceled first. ``--rematerialize`` targets everything
(cheap where inputs are unchanged: predictions come from the request store, adapters from their content address).
Against a production instance (k8s run launcher, ``BASEWEIGHT_ENV=production``) the same command needs no change
(docs/SCALING.md).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import signal
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import dagster as dg

from baseweight_assets.cli.backfill_plan import Selection, count, graphql_params, instance_state, plan_backfill
from baseweight_assets.cli.dagster_services import ServiceError, dagster_services, existing_deployment
from baseweight_assets.cli.progress import CANCEL_MUTATION, LAUNCH_MUTATION, STATUS_QUERY, parse_status, progress_line
from baseweight_assets.cli.run_report import backfill_outcome
from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.defs.executors import ensure_pool_limits
from baseweight_assets.defs.hub_sync import hub_sync_failures
from baseweight_assets.hardware import accelerator_count
from baseweight_assets.inference.servers import sweep_stale_servers
from baseweight_assets.settings import RUN_ID_ENV, Settings
from baseweight_assets.storage.atomic import write_json

MAIN_RUN_TAG = "baseweight/main_run"
POLL_S = 2.0


@contextmanager
def single_main_run(instance: dg.DagsterInstance, clean_orphans: bool = True) -> Iterator[list[str]]:
    """Hold an exclusive lock for the whole main job; while holding it, anything a killed main job left behind is
    an orphan: its backfills are canceled and its unfinished runs marked failed (freeing their pool slots).
    ``clean_orphans=False`` on a shared deployment: the lock is this host's, so another host's main job may be alive;
    the deployment's run monitoring fails runs whose workers died."""
    lock_path = Path(instance.root_directory) / "baseweight-main-run.lock"
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another baseweight-run holds {lock_path}; wait for it or stop it") from None
        cleaned: list[str] = []
        if not clean_orphans:
            yield cleaned
            return
        from dagster._core.execution.backfill import BulkActionStatus

        for backfill in instance.get_backfills(status=BulkActionStatus.REQUESTED):
            if MAIN_RUN_TAG in backfill.tags:
                instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELED))
                cleaned.append(f"backfill {backfill.backfill_id}")
        orphans = instance.get_runs(filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.QUEUED,
                      dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.CANCELING]))
        for run in orphans:
            if MAIN_RUN_TAG in run.tags:
                instance.report_run_failed(run, message="orphaned: the baseweight-run that owned it died")
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
                cleaned.append(f"run {run.run_id}")
        yield cleaned


def size_pools(instance: dg.DagsterInstance, settings: Settings) -> dict[str, int]:
    """Pool limits from configs/deployment.yaml. In production they stand as configured (the cluster's GPUs are
    not this host's). Locally ``gpu`` is sized to this host: one slot per accelerator, or on a CPU-only host one per
    run the instance lets run at once (the CPU is the device there). The GPU count comes from
    ``accelerator_count``, which does not initialise CUDA in this process."""
    deployment = load_deployment_config(settings.config_dir)
    if settings.environment == "production":
        return ensure_pool_limits(instance, deployment)
    queue = instance.get_concurrency_config().run_queue_config
    max_runs = queue.max_concurrent_runs if queue and queue.max_concurrent_runs > 0 else 1
    sized = deployment.model_copy(update={"pools": {**deployment.pools, "gpu": accelerator_count() or max_runs}})
    return ensure_pool_limits(instance, sized)


def _launch(graphql, params: dict) -> str:
    result = graphql(LAUNCH_MUTATION, {"params": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise ServiceError(f"launchPartitionBackfill: {result.get('message') or result['__typename']}")
    return result["backfillId"]


def _follow(services, backfill_id: str, started: float, out=sys.stdout) -> str:
    interactive = out.isatty()
    last_print, last_line = 0.0, ""
    while True:
        services.check_alive()
        progress = parse_status(services.graphql(STATUS_QUERY, {"id": backfill_id}))
        line = progress_line(progress, time.monotonic() - started)
        now = time.monotonic()
        if interactive:
            out.write("\r" + line.ljust(len(last_line)))
            out.flush()
        elif line != last_line and now - last_print >= 15 or progress.finished:
            out.write(f"[baseweight] {line}\n")
            out.flush()
            last_print = now
        last_line = line
        if progress.finished:
            if interactive:
                out.write("\n")
            return progress.status
        time.sleep(POLL_S)


def _interrupt_on_sigterm() -> None:
    """SIGTERM (a CI timeout, ``kill``) takes the same path as Ctrl-C: cancel the backfill, stop the services."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, raise_interrupt)


def main(argv: list[str] | None = None) -> int:
    _interrupt_on_sigterm()
    parser = argparse.ArgumentParser(prog="baseweight-run", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="model ids (default: run_defaults.default_models)")
    parser.add_argument("--tasks", nargs="*", help="task ids (default: every configs/tasks/*.yaml)")
    parser.add_argument("--rematerialize", action="store_true",
                        help="target every partition, not only those the instance lacks")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (the next free one if taken)")
    parser.add_argument("--keep-ui", action="store_true", help="keep the UI up after the job until Ctrl-C")
    parser.add_argument("--dagster-url", default=None,
                        help="launch on a running Dagster deployment (its webserver URL, e.g. a cluster's; default "
                             "$BASEWEIGHT_DAGSTER_URL) instead of starting a code server, UI and daemon here")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    bench = load_bench_config(settings.config_dir, settings.prompts_dir)
    models = tuple(args.models or bench.run.default_models)
    tasks = tuple(args.tasks or bench.tasks)
    for name in models:
        if name not in bench.models:
            parser.error(f"unknown model {name!r}; known: {sorted(bench.models)}")
    for name in tasks:
        if name not in bench.tasks:
            parser.error(f"unknown task {name!r}; known: {sorted(bench.tasks)}")

    paths = settings.paths
    remote = args.dagster_url or settings.dagster_url
    instance = dg.DagsterInstance.get()
    with single_main_run(instance, clean_orphans=not remote) as cleaned:
        # model servers a killed step left behind (their pidfiles sit beside their logs) hold GPU memory and ports;
        # a remote deployment's steps run in their own pods, where nothing outlives its pod
        stopped = [] if remote else sweep_stale_servers(paths.results, log=lambda m: print(f"[baseweight] {m}"))
        if cleaned or stopped:
            print(f"[baseweight] cleaned up after a killed main job: "
                  f"{', '.join(cleaned + [f'server pid {p}' for p in stopped])}")
        pools = size_pools(instance, settings)
        defs = build_definitions(settings)
        done, done_unpartitioned = instance_state(instance, defs)
        target = plan_backfill(defs, Selection(tasks, models), done, done_unpartitioned,
                               rematerialize=args.rematerialize)
        print(f"[baseweight] profile={settings.profile} models={list(models)} tasks={list(tasks)} "
              f"data={settings.data_root} pools={pools} instance={instance.root_directory}")
        summary = {"profile": settings.profile, "models": list(models), "tasks": list(tasks),
                   "dashboard_json": str(paths.dashboard / "dashboard_data.json"),
                   "site": str(paths.dashboard / "site" / "index.html"), "tables": str(paths.dashboard / "tables")}
        if not target:
            print("[baseweight] every targeted partition is already materialized (use --rematerialize to redo)")
            print(json.dumps(summary, indent=2))
            return 0
        run_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        logs = paths.results / "main_runs" / run_id
        status, backfill_id = "NOT_STARTED", None
        try:
            deployment = existing_deployment(remote) if remote else dagster_services(
                home=Path(instance.root_directory), logs=logs, repo_root=settings.repo_root, env={RUN_ID_ENV: run_id},
                ui_port=args.port)
            with deployment as services:
                params = graphql_params(defs, target, f"baseweight main job {run_id}", {MAIN_RUN_TAG: run_id})
                backfill_id = _launch(services.graphql, params)
                print(f"[baseweight] backfill {backfill_id}: {count(target)} partitions over {len(target)} assets; "
                      f"watch it at {services.ui_url}/overview/backfills/{backfill_id}")
                try:
                    status = _follow(services, backfill_id, started)
                except KeyboardInterrupt:
                    print("\n[baseweight] interrupted: canceling the backfill (finished partitions are kept)")
                    services.graphql(CANCEL_MUTATION, {"id": backfill_id})
                    raise
                if args.keep_ui:
                    print(f"[baseweight] done; the UI stays up at {services.ui_url} until Ctrl-C")
                    try:
                        while True:
                            time.sleep(3600)
                    except KeyboardInterrupt:
                        pass
        finally:
            elapsed = time.monotonic() - started
            if backfill_id is not None:
                outcome = backfill_outcome(instance, backfill_id)
                summary.update({
                    "backfill_id": backfill_id, "status": status, "wall_time_s": round(elapsed, 1),
                    "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "partitions_targeted": count(target), "runs": outcome.runs,
                    "run_wall_s": round(outcome.run_wall_s, 1), "asset_step_s": round(outcome.step_s, 1),
                    "overhead_share": None if outcome.overhead_share is None else round(outcome.overhead_share, 3),
                    "failed": outcome.failed, "not_run_after_failure": outcome.not_run, "logs": str(logs),
                    # a remote deployment's artifacts live on its volume: its hub_sync checks say it in its UI
                    "hub_sync_failed": None if remote else hub_sync_failures(settings),
                })
                write_json(logs / "summary.json", summary, indent=2)
                print(json.dumps(summary, indent=2))
                for line in summary["hub_sync_failed"] or []:
                    print(f"[baseweight] {line}")
                share = summary["overhead_share"]
                print(f"[baseweight] finished in {elapsed / 60:.1f} min ({status}); {outcome.runs} runs; "
                      f"time outside asset steps: {'n/a' if share is None else f'{share:.1%}'}; open {summary['site']}")
    return 0 if status == "COMPLETED_SUCCESS" and not summary.get("failed") else 1


if __name__ == "__main__":
    sys.exit(main())
