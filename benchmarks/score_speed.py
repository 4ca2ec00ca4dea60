"""Scoring speed: 10,000 classification rows (< 2 s) and the 500 real MBPP test-split reference
solutions through the sandbox (< 60 s on 2 cores).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/score_speed.py [--data-dir ../shared/data] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseweight_assets.config.loader import load_model_file  # noqa: E402
from baseweight_assets.config.schema import TaskConfig  # noqa: E402
from baseweight_assets.scoring.sandbox import isolation_backend  # noqa: E402
from baseweight_assets.scoring.score import score_predictions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def classification(n: int = 10_000) -> dict:
    task = load_model_file(ROOT / "configs/tasks/banking77.yaml", TaskConfig)
    rng = random.Random(0)
    labels = [f"intent_{i:02d}" for i in range(77)]
    pool, rows = [], []
    for i in range(n):
        gold = rng.choice(labels)
        r = rng.random()
        out = gold if r < 0.7 else rng.choice(labels) if r < 0.9 else f"The intent is {gold}." if r < 0.95 else "no idea"
        pool.append({"id": f"q{i}", "question_id": f"q{i}", "gold": gold, "fields": {}})
        rows.append({"id": f"q{i}", "question_id": f"q{i}", "output": out, "error": None})
    ids = [ex["question_id"] for ex in pool]
    prepared = {"splits": {"test_pool": pool}, "test_seeds": [ids, ids[: n // 2], ids[n // 2 :]]}
    start = time.perf_counter()
    res = score_predictions(task, prepared, rows, labels=labels, n_bootstrap=1000, seed=0)
    return {"rows": n, "seconds": round(time.perf_counter() - start, 3), "metric": res["metric"],
            "bootstrap_resamples": 1000, "bootstraps_run": 1 + len(res["secondary"]["ci"])}


def mbpp(data_dir: Path, workers: int) -> dict:
    task = load_model_file(ROOT / "configs/tasks/mbpp.yaml", TaskConfig)
    pool, rows = [], []
    with open(data_dir / "mbpp/raw/mbpp.jsonl", encoding="utf-8") as fh:
        for line in fh:
            ex = json.loads(line)
            if 11 <= ex["task_id"] <= 510:  # the standard MBPP test split
                qid = f"mbpp-{ex['task_id']}"
                pool.append({"id": qid, "question_id": qid, "fields": {},
                             "gold": {"test_list": ex["test_list"], "test_setup_code": ex["test_setup_code"]}})
                rows.append({"id": qid, "question_id": qid, "output": f"```python\n{ex['code']}\n```", "error": None})
    prepared = {"splits": {"test_pool": pool}, "test_seeds": [[ex["question_id"] for ex in pool]]}
    start = time.perf_counter()
    res = score_predictions(task, prepared, rows, labels=None, n_bootstrap=1000, seed=0, workers=workers)
    return {"programs": len(rows), "workers": workers, "seconds": round(time.perf_counter() - start, 2),
            "pass_at_1": res["metric"], "error_counts": res["error_counts"], "backend": isolation_backend()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("BASEWEIGHT_DATA_DIR", ROOT.parent / "shared/data")))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    out = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
           "classification": classification(), "mbpp": mbpp(args.data_dir, args.workers)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
