"""kill -9 in the middle of a multi-partition backfill, restart: nothing lost, duplicated or recomputed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from .helpers import REPO, SHARED_DATA

HERE = Path(__file__).resolve().parent
TASKS = ["fpb", "mbpp", "banking77", "ledgar"]


def _env(root: Path) -> dict[str, str]:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump({"telemetry": {"enabled": False}}))
    return {**os.environ, "DAGSTER_HOME": str(home), "BASEWEIGHT_REPO_ROOT": str(root / "repo"),
            "BASEWEIGHT_CONFIG_DIR": str(REPO / "configs"), "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"),
            "BASEWEIGHT_DATA_DIR": str(SHARED_DATA), "BASEWEIGHT_PROFILE": "smoke", "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1"}


def _driver(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HERE / "fault_driver.py"), *TASKS], env=env, cwd=REPO,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _materializations(home: Path, asset: str) -> dict[str, int]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
        counts: dict[str, int] = {}
        for record in records:
            counts[record.partition_key] = counts.get(record.partition_key, 0) + 1
        return counts


def _artifacts(root: Path) -> dict[str, object]:
    base = root / "repo" / "data" / "smoke"
    return {str(p.relative_to(base)): json.loads(p.read_text()) for p in sorted(base.rglob("*.json"))}


@pytest.mark.timeout(300)
def test_kill_9_mid_backfill_then_resume(tmp_path):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    interrupted, clean = tmp_path / "interrupted", tmp_path / "clean"
    env = _env(interrupted)
    log = tmp_path / "driver.log"
    proc = _driver(env, log)
    try:
        deadline = time.monotonic() + 120
        while len(_materializations(interrupted / "home", "prepared_splits")) < 2:
            assert proc.poll() is None, f"driver ended before the kill:\n{log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = _materializations(interrupted / "home", "prepared_splits")
    assert 2 <= len(before) < len(TASKS), before
    files_before = {p: p.stat().st_mtime_ns for p in (interrupted / "repo" / "data" / "smoke" / "prepared_splits").glob("*.json")}

    resumed = _driver(env, log)
    assert resumed.wait(timeout=180) == 0, log.read_text()
    text = log.read_text()
    for task in before:
        assert f"skip {task}" in text  # completed partitions were not recomputed ...
    for path, mtime in files_before.items():
        if path.stem in before:
            assert path.stat().st_mtime_ns == mtime  # ... nor rewritten
    after = {a: _materializations(interrupted / "home", a) for a in ("raw_dataset", "prepared_splits")}
    assert after["prepared_splits"] == {t: 1 for t in TASKS}, after  # none lost, none duplicated
    assert set(after["raw_dataset"]) == set(TASKS)

    assert _driver(_env(clean), tmp_path / "clean.log").wait(timeout=180) == 0
    assert _artifacts(interrupted) == _artifacts(clean)  # same outputs as an uninterrupted run
    leftovers = [p for p in (interrupted / "repo").rglob("*") if p.is_file() and p.suffix != ".json"]
    assert all(p.name.startswith(".") for p in leftovers), leftovers
