"""A real headless ``dagster dev`` runs an asset backfill launched through its GraphQL API."""

from __future__ import annotations

import json

import pytest

from .dagster_dev import dagster_dev
from .helpers import REPO, SHARED_DATA

TASKS = ["fpb", "mbpp"]


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_graphql_backfill_two_tasks_data_stage(tmp_path):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    repo = tmp_path / "repo"
    env = {"BASEWEIGHT_REPO_ROOT": str(repo), "BASEWEIGHT_CONFIG_DIR": str(REPO / "configs"),
           "BASEWEIGHT_PROMPTS_DIR": str(REPO / "prompts"), "BASEWEIGHT_DATA_DIR": str(SHARED_DATA),
           "BASEWEIGHT_PROFILE": "smoke", "BASEWEIGHT_ENV": "local", "HF_HUB_OFFLINE": "1"}
    with dagster_dev(tmp_path / "home", env, tmp_path / "dagster-dev.log") as dev:
        backfill = dev.launch_backfill(["raw_dataset", "prepared_splits"], TASKS)
        status = dev.wait_backfill(backfill, timeout_s=300)
    log = (tmp_path / "dagster-dev.log").read_text(errors="replace")
    assert status == "COMPLETED_SUCCESS", log[-4000:]
    for task in TASKS:
        prepared = json.loads((repo / "data" / "smoke" / "prepared_splits" / f"{task}.json").read_text())
        assert prepared["task"] == task and prepared["splits"]["test_pool"]
        assert (repo / "data" / "smoke" / "raw_dataset" / f"{task}.json").is_file()
    assert not (repo / "data" / "smoke" / "prepared_splits" / "banking77.json").exists()
