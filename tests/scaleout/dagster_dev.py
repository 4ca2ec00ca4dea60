"""A real headless ``dagster dev`` on 127.0.0.1 with a throwaway DAGSTER_HOME, and a tiny GraphQL client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import yaml

from .helpers import REPO, free_port

LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on UnauthorizedError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status numPartitions } ... on PythonError { message } } }"""


class DagsterDev:
    def __init__(self, url: str):
        self.url = url

    def graphql(self, query: str, variables: dict) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            payload = json.load(resp)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def launch_backfill(self, assets: list[str], partitions: list[str]) -> str:
        params = {"assetSelection": [{"path": [a]} for a in assets], "partitionNames": partitions}
        result = self.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def wait_backfill(self, backfill_id: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        status = None
        while time.monotonic() < deadline:
            result = self.graphql(STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            status = result.get("status")
            if status in ("COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "COMPLETED"):
                return status
            time.sleep(2)
        raise AssertionError(f"backfill {backfill_id} still {status} after {timeout_s}s")


def write_instance(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump({
        "telemetry": {"enabled": False},
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "DefaultRunCoordinator"},
        "concurrency": {"pools": {"granularity": "op", "default_limit": 1}},
    }))


@contextmanager
def dagster_dev(home: Path, env: dict[str, str], log: Path, startup_s: float = 180) -> Iterator[DagsterDev]:
    write_instance(home)
    port = free_port()
    exe = Path(sys.executable).parent / "dagster"
    full_env = {**os.environ, **env, "DAGSTER_HOME": str(home), "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(exe), "dev", "-m", "baseweight_assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + startup_s
        while True:
            assert proc.poll() is None, f"dagster dev exited early:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, f"dagster dev not up after {startup_s}s:\n{log.read_text()[-3000:]}"
                time.sleep(1)
        yield DagsterDev(url)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
