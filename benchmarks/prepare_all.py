"""Prepare all six tasks from the raw files and print wall time and peak memory.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/prepare_all.py [--smoke] [--checks]
Peak memory is the process's max RSS (resource.getrusage), which includes the interpreter.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

from baseweight_assets.config import load_bench_config
from baseweight_assets.data import checks
from baseweight_assets.data.prepare import prepare_task
from baseweight_assets.data.raw import load_raw
from baseweight_assets.paths import REPO_ROOT
from baseweight_assets.settings import Settings
from baseweight_assets.prompting import PromptTemplate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="rows_per_split=12, n_eval_seeds=2")
    parser.add_argument("--checks", action="store_true", help="also run the four data checks")
    args = parser.parse_args()
    cfg = load_bench_config(REPO_ROOT / "configs")
    start = time.perf_counter()
    for task in cfg.tasks.values():
        t0 = time.perf_counter()
        raw = load_raw(task, Settings.from_env().data_root)
        t1 = time.perf_counter()
        prompt = PromptTemplate.load(cfg.prompts_dir, task, raw["labels"])
        prepared = prepare_task(task, raw, prompt, n_eval_seeds=2 if args.smoke else cfg.run.n_eval_seeds,
                                rows_per_split=12 if args.smoke else None)
        t2 = time.perf_counter()
        line = {"task": task.id, "load_s": round(t1 - t0, 2), "prepare_s": round(t2 - t1, 2),
                "counts": prepared["report"]["counts"]}
        if args.checks:
            outcomes = [checks.check_raw_row_counts(task, raw)] + [
                f(prepared) for f in (checks.check_label_coverage, checks.check_no_train_test_overlap,
                                      checks.check_class_balance)]
            line["checks_passed"] = [o.passed for o in outcomes]
            line["checks_s"] = round(time.perf_counter() - t2, 2)
        print(json.dumps(line))
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"total wall time: {wall:.1f} s   peak RSS: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
