"""Where the main job's time went: the run summary plus step-seconds by step and by task, read from the Dagster
instance of a clone that ran ``./run.sh`` (the raw output behind docs/PERFORMANCE.md, "The main job").

    .venv/bin/python benchmarks/main_job_steps.py --clone ../fresh_clone --run-sh-total-s 1001 \
        --out benchmarks/results/main_job_smoke_cpu.json

``--run-sh-total-s``: the wall time of the whole ``./run.sh`` (setup included), timed by the caller.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import warnings
from collections import defaultdict
from pathlib import Path


def step_seconds(dagster_home: Path) -> tuple[dict, dict]:
    """Seconds of successful steps, summed by step key and by task (the partition key's task part)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    by_step: dict[str, float] = defaultdict(float)
    by_task: dict[str, float] = defaultdict(float)
    with dg.DagsterInstance.get() as instance:
        # get_event_records is the instance's query for one event type across runs (deprecated, still supported)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_SUCCESS),
                                                 limit=100_000)
        runs: dict[str, dg.DagsterRun | None] = {}
        for record in records:
            entry = record.event_log_entry
            seconds = entry.dagster_event.event_specific_data.duration_ms / 1000
            if entry.run_id not in runs:
                runs[entry.run_id] = instance.get_run_by_id(entry.run_id)
            tags = runs[entry.run_id].tags if runs[entry.run_id] else {}
            partition = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_start") or "-"
            by_step[entry.step_key] += seconds
            by_task[partition.split("|")[0]] += seconds
    ordered = lambda d: {k: round(v, 1) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}  # noqa: E731
    return ordered(by_step), ordered(by_task)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clone", required=True, help="the clone that ran ./run.sh")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--run-sh-total-s", type=float, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    clone = Path(a.clone).resolve()
    summaries = sorted((clone / "results" / a.profile / "main_runs").glob("*/summary.json"),
                       key=lambda p: p.stat().st_mtime)
    if not summaries:
        raise SystemExit(f"{clone}/results/{a.profile}/main_runs/*/summary.json: no main-job summary")
    summary = json.loads(summaries[-1].read_text())
    by_step, by_task = step_seconds(clone / ".dagster_home" / a.profile)
    commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    report = {
        "command": "git clone <repo> && cd <clone> && ./run.sh   (setup with a warm pip cache, then baseweight-run)",
        "machine": f"{os.cpu_count()}-core {platform.machine()} VM, OMP_NUM_THREADS=1, no other jobs running",
        "commit": commit, "run_sh_total_s": a.run_sh_total_s, "summary": summary,
        "step_seconds_by_step": by_step, "step_seconds_by_task": by_task,
    }
    Path(a.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("commit", "run_sh_total_s")} | {
        "wall_time_s": summary.get("wall_time_s"), "overhead_share": summary.get("overhead_share"),
        "top_steps": dict(list(by_step.items())[:4]), "by_task": by_task}, indent=1))


if __name__ == "__main__":
    main()
