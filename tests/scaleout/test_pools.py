"""The instance enforces the ``gpu`` pool limit from configs/deployment.yaml across concurrent steps."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
import yaml

from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.defs.executors import ensure_pool_limits

from .helpers import REPO

HERE = Path(__file__).resolve().parent


def _instance(tmp_path, gpu_limit: int) -> dg.DagsterInstance:
    home = tmp_path / f"home{gpu_limit}"
    home.mkdir()
    # default_limit is generous on purpose: only the configured "gpu" limit may serialise the steps.
    (home / "dagster.yaml").write_text(yaml.safe_dump({
        "telemetry": {"enabled": False},
        "concurrency": {"pools": {"granularity": "op", "default_limit": 8}},
    }))
    instance = dg.DagsterInstance.from_config(str(home))
    config = load_deployment_config(REPO / "configs").model_copy(update={"pools": {"gpu": gpu_limit, "api": 2}})
    assert ensure_pool_limits(instance, config)["gpu"] == gpu_limit
    assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == gpu_limit
    return instance


def _step_windows(instance, run_id) -> dict[str, tuple[float, float]]:
    windows: dict[str, list[float]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event and event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
            windows.setdefault(event.step_key, []).append(record.timestamp)
    return {k: (min(v), max(v)) for k, v in windows.items()}


def _run(instance) -> tuple[dict, str]:
    # step subprocesses rebuild the job from tests/scaleout/pool_job.py
    job = dg.build_reconstructable_job("pool_job", "pool_job", reconstructor_working_directory=str(HERE))
    with dg.execute_job(job, instance=instance) as result:
        assert result.success
        logs = " ".join(r.user_message or "" for r in instance.all_logs(result.run_id))
        return _step_windows(instance, result.run_id), logs


@pytest.mark.parametrize("limit", [1, 2])
def test_gpu_pool_limit_serialises_steps(tmp_path, limit):
    instance = _instance(tmp_path, limit)
    try:
        windows, logs = _run(instance)
    finally:
        instance.dispose()
    (a_start, a_end), (b_start, b_end) = windows["train_a"], windows["train_b"]
    overlap = min(a_end, b_end) - max(a_start, b_start)
    if limit == 1:
        assert overlap < 0, windows  # one after the other
        assert "blocked by limit for pool gpu" in logs
    else:  # the control: with two slots the same steps do run together, so the check above can fail
        assert overlap > 0.5, windows


def test_main_run_sizes_the_gpu_pool_to_the_host_without_initialising_cuda(tmp_path, monkeypatch):
    """A CPU host gets one gpu slot per run the instance runs at once; the other pools come from deployment.yaml.
    Counting GPUs must not initialise CUDA in the launcher (run workers are started from it)."""
    import torch

    from baseweight_assets.cli.run import size_pools
    from baseweight_assets.settings import Settings

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: pytest.fail("CUDA initialised in the launcher"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump({
        "telemetry": {"enabled": False},
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
        "concurrency": {"runs": {"max_concurrent_runs": 3}, "pools": {"granularity": "op", "default_limit": 1}},
    }))
    instance = dg.DagsterInstance.from_config(str(home))
    settings = Settings.from_env()
    limits = size_pools(instance, settings)
    configured = load_deployment_config(settings.config_dir).pools
    assert limits == {**configured, "gpu": 3}
    assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 3
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # a two-GPU host: one slot per card
    assert size_pools(instance, settings)["gpu"] == 2
    # against a production instance the cluster's pools stand as configured, whatever the launching host has
    production = Settings.from_env({**os.environ, "BASEWEIGHT_ENV": "production"})
    assert size_pools(instance, production) == configured
    assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == configured["gpu"]
    instance.dispose()
