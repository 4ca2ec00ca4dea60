"""``baseweight-run`` as a user runs it: Dagster's code server, UI and daemon start, the backfill runs through the
queued run coordinator, and the summary says what happened. On the fixture data with the fake API (the API cells
need no model), so it runs on every pytest run; a second call finds nothing left to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.fixture_configs import FIXTURE_DATA, fixture_configs

REPO = Path(__file__).resolve().parents[2]


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "baseweight-run"), "--models", "gpt-5.4-nano", "--tasks", "fpb",
           "--port", "3300", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def _env(tmp_path: Path) -> dict:
    configs = fixture_configs(tmp_path / "cfg")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return {**os.environ, "DAGSTER_HOME": str(home), "BASEWEIGHT_REPO_ROOT": str(tmp_path / "bench"),
            "BASEWEIGHT_CONFIG_DIR": str(configs), "BASEWEIGHT_PROMPTS_DIR": str(configs.parent / "prompts"),
            "BASEWEIGHT_DATA_DIR": str(FIXTURE_DATA), "BASEWEIGHT_PROFILE": "smoke", "BASEWEIGHT_API": "fake",
            "OMP_NUM_THREADS": "1"}


@pytest.mark.timeout(900)
def test_the_main_job_runs_through_dagsters_daemon_and_resumes(tmp_path):
    env = _env(tmp_path)
    root = Path(env["BASEWEIGHT_REPO_ROOT"])
    first = _run(env)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out[-6000:]
    [summary_path] = (root / "results" / "smoke" / "main_runs").glob("*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "COMPLETED_SUCCESS", summary
    assert not summary["failed"] and not summary["not_run_after_failure"] and summary["hub_sync_failed"] == []
    assert summary["runs"] >= 3 and 0.0 <= summary["overhead_share"] <= 1.0
    for name in ("code-server.log", "webserver.log", "daemon.log"):
        assert (summary_path.parent / name).is_file()
    dashboard = json.loads(Path(summary["dashboard_json"]).read_text())
    assert dashboard["tasks"]["fpb"]["cells"]["gpt-5.4-nano__zero-shot"]["status"] == "ok"
    assert Path(summary["site"]).is_file()

    again = _run(env)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "already materialized" in again.stdout


@pytest.mark.timeout(900)
def test_the_main_job_launches_on_a_running_deployment(tmp_path):
    """``--dagster-url``: a deployment that is already up (as a cluster's is) does the work with its own daemon and
    run launcher; baseweight-run starts nothing, launches the backfill there and follows it to the end."""
    from baseweight_assets.cli.dagster_services import dagster_services

    env = _env(tmp_path)
    Path(env["BASEWEIGHT_REPO_ROOT"]).mkdir()
    code_env = {k: v for k, v in env.items() if k.startswith(("BASEWEIGHT_", "OMP_"))}
    with dagster_services(home=Path(env["DAGSTER_HOME"]), logs=tmp_path / "deployment-logs", env=code_env,
                          repo_root=Path(env["BASEWEIGHT_REPO_ROOT"]), ui_port=3400) as deployment:
        done = _run(env, "--dagster-url", deployment.ui_url)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert f"watch it at {deployment.ui_url}/overview/backfills/" in done.stdout
    [summary_path] = (Path(env["BASEWEIGHT_REPO_ROOT"]) / "results" / "smoke" / "main_runs").glob("*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "COMPLETED_SUCCESS" and not summary["failed"], summary
    assert summary["hub_sync_failed"] is None  # the deployment's own hub_sync checks report it
    assert not list(summary_path.parent.glob("*.log"))  # no code server, UI or daemon of its own
    dashboard = json.loads(Path(summary["dashboard_json"]).read_text())
    assert dashboard["tasks"]["fpb"]["cells"]["gpt-5.4-nano__zero-shot"]["status"] == "ok"
