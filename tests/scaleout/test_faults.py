"""kill -9 in the middle of a multi-partition backfill, restart: nothing lost, duplicated or recomputed; two
concurrent materializations of one API partition: nothing lost, nothing paid twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from baseweight_assets.config.loader import load_bench_config

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


@pytest.mark.timeout(600)
def test_two_concurrent_materializations_of_one_api_partition_lose_nothing(tmp_path):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    sys.path.insert(0, str(REPO / "tests" / "inference"))
    from fault_server import FaultServer  # stdlib-only OpenAI-compatible server that counts completions

    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs)
    nano = configs / "models" / "gpt-5.4-nano.yaml"
    partition = "fpb|gpt-5.4-nano__zero-shot"
    with FaultServer(delay_s=1.5) as server:  # the first run calls for >= 15 s: the second one starts meanwhile
        nano.write_text(nano.read_text() + f"base_url: {server.base_url}\napi_key_env: BASEWEIGHT_TEST_API_KEY\n")
        env = {**_env(tmp_path), "BASEWEIGHT_CONFIG_DIR": str(configs), "BASEWEIGHT_TEST_API_KEY": "sk-test-two-runs"}
        driver = [sys.executable, str(HERE / "api_partition_driver.py")]
        prepared = subprocess.run([*driver, "fpb", "raw_dataset", "prepared_splits"], env=env, cwd=REPO,
                                  capture_output=True, text=True, timeout=300)
        assert prepared.returncode == 0, prepared.stdout[-3000:] + prepared.stderr[-3000:]
        runs = []
        for name in ("run_a", "run_b"):  # two runs of one partition (own instances: no SQLite contention)
            home = tmp_path / name
            home.mkdir()
            (home / "dagster.yaml").write_text(yaml.safe_dump({"telemetry": {"enabled": False}}))
            runs.append(subprocess.Popen([*driver, partition, "api_predictions"], cwd=REPO, text=True,
                                         env={**env, "DAGSTER_HOME": str(home)},
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + 120
            while not server.state.bodies:  # start the second run once the first is calling the API
                assert runs[0].poll() is None and time.monotonic() < deadline, runs[0].stdout.read()[-3000:]
                time.sleep(0.05)
        logs = [run.communicate(timeout=300)[0] for run in runs]
        completions = server.state.completions
    assert [run.returncode for run in runs] == [0, 0], [log[-3000:] for log in logs]
    stores = list((tmp_path / "repo").rglob("gpt-5.4-nano__zero-shot.jsonl"))
    assert len(stores) == 1, stores
    rows = [json.loads(line) for line in stores[0].read_text().splitlines()]
    assert rows and all(r["error"] is None and not r["stand_in"] for r in rows)
    assert len({r["request_hash"] for r in rows}) == len(rows)  # one row per request, none duplicated
    warmup = load_bench_config(configs, REPO / "prompts").run.warmup_requests  # by the run that found work
    assert completions == len(rows) + warmup  # every request answered (and paid) once across both runs
    assert "is in use by another process" in logs[1] and f"{len(rows)} cached, 0 to answer" in logs[1]  # it waited
