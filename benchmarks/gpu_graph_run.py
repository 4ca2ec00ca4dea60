"""The benchmark's own graph on a GPU host: the embedded model on the full profile, through Dagster and the repo's
code unchanged (definitions factory, assets, IO managers, the in-process engine, the trainer).

What runs: the stage registry's backfill plan for the chosen tasks and models (cli/backfill_plan.plan_backfill), in
the runs an asset backfill would make (run_order), each materialized with ``dagster.materialize`` against a SQLite
instance under --work (so a second call on a warm machine resumes instead of recomputing). LoRA cells run smallest N
first; when --budget-s is nearly spent no new training starts, and the task summaries and the dashboard always run
last over whatever finished. The configs are the repo's, with two recorded overrides: the training seeds and, for
tasks other than --curve-task, the LoRA curve cut to --lora-sizes.

    python3 benchmarks/gpu_graph_run.py --data .gpu_carry/data --models-cache /tmp/bw-models --work /tmp/bw \\
        --out $OUT --tasks banking77 fpb --curve-task banking77 --training-seeds 1 --budget-s 480 --commit <sha>

Writes to --out: provenance.json (card, versions, commit, overrides, per-run wall times, GPU-hours, cost) and
results.tar.gz (dashboard JSON, tables, scores without per-example rows, adapter metadata).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tarfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _config_copy(dest: Path, *, seeds: int, curve_task: str | None, lora_sizes: list) -> dict:
    shutil.copytree(REPO / "configs", dest, dirs_exist_ok=True)
    overrides = {"run_defaults.training_seeds": seeds}
    run = yaml.safe_load((dest / "run_defaults.yaml").read_text())
    run["training_seeds"] = seeds
    (dest / "run_defaults.yaml").write_text(yaml.safe_dump(run, sort_keys=False))
    for path in sorted((dest / "tasks").glob("*.yaml")):
        task = yaml.safe_load(path.read_text())
        if task["id"] != curve_task:
            task["lora_sizes"] = lora_sizes
            overrides[f"tasks/{path.name}.lora_sizes"] = lora_sizes
            path.write_text(yaml.safe_dump(task, sort_keys=False))
    return overrides


def _priority(run: tuple[tuple[str, ...], str | None]) -> tuple:
    """Data first, then prompted cells, then LoRA cells by N (the curve fills from the left); report last."""
    assets, partition = run
    if assets[0] in ("raw_dataset", "prepared_splits"):
        return (0, 0, "")
    if assets[0] in ("task_summary", "dashboard_data", "dashboard_site"):
        return (9, 0 if assets[0] == "task_summary" else 1, partition or "")
    condition = (partition or "").rpartition("__")[2]
    if not condition.startswith("lora-"):
        return (1, 0, partition)
    size = condition.removeprefix("lora-")
    n = 10 ** 9 if size == "full" else int(size)
    return (2, n, 0 if assets[0] == "lora_adapter" else 1, partition)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--models-cache", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tasks", nargs="+", default=["banking77", "fpb"])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gpt-5.4-nano"])
    parser.add_argument("--curve-task", default="banking77")
    parser.add_argument("--lora-sizes", nargs="+", default=["500", "full"])
    parser.add_argument("--training-seeds", type=int, default=1)
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--reserve-s", type=float, default=60.0, help="kept for the summaries and the dashboard")
    parser.add_argument("--commit", default="unknown")
    args = parser.parse_args(argv)

    import dagster as dg
    import torch

    from baseweight_assets.cli.backfill_plan import Selection, instance_state, plan_backfill, run_order
    from baseweight_assets.defs.definitions_factory import build_definitions
    from baseweight_assets.settings import Settings

    started = time.monotonic()
    sizes = [s if s == "full" else int(s) for s in args.lora_sizes]
    configs = args.work / "configs"
    overrides = _config_copy(configs, seeds=args.training_seeds, curve_task=args.curve_task, lora_sizes=sizes)
    settings = Settings.from_env({
        "BASEWEIGHT_REPO_ROOT": str(args.work), "BASEWEIGHT_CONFIG_DIR": str(configs),
        "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"), "BASEWEIGHT_DATA_DIR": str(args.data),
        "BASEWEIGHT_MODELS_CACHE": str(args.models_cache), "BASEWEIGHT_PROFILE": "full",
        "BASEWEIGHT_API": "stand-in",
    })
    defs = build_definitions(settings)
    home = args.work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.from_config(str(home))
    target = plan_backfill(defs, Selection(tuple(args.tasks), tuple(args.models)), *instance_state(instance, defs))
    runs = sorted(run_order(defs, target), key=_priority)
    log_path = args.out / "runs.jsonl"
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    failed_adapters: set[str] = set()
    for assets, partition in runs:
        elapsed = time.monotonic() - started
        report = assets[0] in ("task_summary", "dashboard_data", "dashboard_site")
        if not report and elapsed > args.budget_s - args.reserve_s:
            records.append({"assets": assets, "partition": partition, "status": "not_run_budget"})
            continue
        if assets[0] == "local_predictions" and partition in failed_adapters:
            records.append({"assets": assets, "partition": partition, "status": "not_run_after_failure"})
            continue
        t0 = time.monotonic()
        result = dg.materialize([*defs.assets, *defs.asset_checks], selection=list(assets), partition_key=partition,
                                resources=defs.resources, instance=instance, raise_on_error=False)
        record = {"assets": assets, "partition": partition, "status": "ok" if result.success else "failed",
                  "wall_s": round(time.monotonic() - t0, 2)}
        if not result.success:
            failure = next((e for e in result.all_events if e.is_step_failure), None)
            record["error"] = str(failure.step_failure_data.error.message)[:1500] if failure else "failed"
            if assets[0] == "lora_adapter":
                failed_adapters.add(partition)
        records.append(record)
        with open(log_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"[gpu-graph] {record['status']:>6} {'+'.join(assets)}[{partition}] {record.get('wall_s')}s "
              f"(elapsed {time.monotonic() - started:.0f}s)", flush=True)

    paths = settings.paths
    adapters = []
    for meta in sorted(paths.adapters.glob("*/baseweight_training.json")):
        m = json.loads(meta.read_text())
        adapters.append({k: m.get(k) for k in ("backend", "backend_why", "n_train", "epochs_run", "steps", "gpu_hours",
                                                "training_cost_usd", "trained_tokens", "train_tokens_per_s",
                                                "peak_gpu_mem_mb", "best_val_loss", "wall_time_s", "hardware",
                                                "gpu_name", "input_fingerprint", "library_versions")})
    import transformers
    import peft

    provenance = {
        "commit": args.commit, "command": " ".join(sys.argv), "profile": "full", "tasks": args.tasks,
        "models": args.models, "overrides": overrides, "api": "stand-in (no API key on the GPU machine)",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "peft": peft.__version__, "dagster": dg.__version__, "wall_s": round(time.monotonic() - started, 1),
        "runs": records, "adapters": adapters,
        "gpu_hours_trained": round(sum(a["gpu_hours"] or 0 for a in adapters), 5),
        "training_cost_usd": round(sum(a["training_cost_usd"] or 0 for a in adapters), 4),
    }
    (args.out / "provenance.json").write_text(json.dumps(provenance, indent=2))
    with tarfile.open(args.out / "results.tar.gz", "w:gz") as tar:
        for path in [paths.dashboard_json, *sorted(paths.tables.glob("*"))]:
            if path.is_file():
                tar.add(path, arcname=f"dashboard/{path.name}")
        for scores in sorted(paths.results.glob("*_scores/*/*.json")):
            value = json.loads(scores.read_text())
            value.pop("per_example", None)
            for seed in value.get("per_seed") or []:
                seed.pop("per_example", None)
            slim = args.work / "slim" / scores.parent.parent.name / scores.parent.name / scores.name
            slim.parent.mkdir(parents=True, exist_ok=True)
            slim.write_text(json.dumps(value, indent=1))
            tar.add(slim, arcname=f"scores/{scores.parent.parent.name}/{scores.parent.name}/{scores.name}")
    ok = sum(r["status"] == "ok" for r in records)
    print(f"[gpu-graph] {ok}/{len(records)} runs ok in {provenance['wall_s']}s; GPU-hours trained "
          f"{provenance['gpu_hours_trained']}, ${provenance['training_cost_usd']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
