"""Dagster's own services for the main job: one code server, the webserver (UI) and the daemon, as child processes.

They run against the repo's instance (``DAGSTER_HOME``): the daemon's backfill loop requests runs, its queue
coordinator launches them under the instance's run limit and pools, and the UI shows it all while it happens.
The code server is started once and shared by the UI and the daemon (one import of the code location, not two).
Every child runs in its own process group and is stopped with it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from baseweight_assets.inference.servers import log_tail, wait_ready, watched

CODE_LOCATION = "baseweight"
DEFINITIONS_MODULE = "baseweight_assets.definitions"
# Dagster's backfill daemon re-evaluates backfills every DEFAULT_DAEMON_INTERVAL_SECONDS (30 s, a module constant in
# dagster 1.13): on a 10-minute job with six dependency levels that idles the chain for minutes, so the main job runs
# the same daemon with a shorter interval (cli/daemon.py; tests/cli pin that the constant still exists).
BACKFILL_INTERVAL_S = 2


class ServiceError(RuntimeError):
    """A Dagster service did not start; the message quotes the end of its log."""


def free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise ServiceError("no free port on 127.0.0.1")


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace_s: float = 15.0) -> None:
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def _start(name: str, command: list[str], log: Path, env: dict[str, str], cwd: Path) -> Service:
    """Under the servers' watchdog: the service (and the run workers a code server starts) die with this process,
    even when it is killed with ``kill -9``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(watched(command, 15.0), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True)
    return Service(name, proc, log)


def _wait(service: Service, ready, timeout_s: float) -> None:
    wait_ready(ready, service.proc, name=service.name, log_path=service.log, timeout_s=timeout_s,
               error=ServiceError, poll_s=0.5)


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class GraphQL:
    """The webserver's GraphQL endpoint: the same API the UI uses."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, query: str, variables: dict | None = None, timeout_s: float = 60) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            payload = json.load(resp)
        if payload.get("errors"):
            raise ServiceError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False


@dataclass
class Services:
    ui_url: str
    graphql: GraphQL
    services: list[Service]

    def check_alive(self) -> None:
        for s in self.services:
            if not s.alive():
                raise ServiceError(f"{s.name} stopped (exit code {s.proc.returncode}); log {s.log}:\n{log_tail(s.log)}")


@contextmanager
def existing_deployment(url: str, timeout_s: float = 30) -> Iterator[Services]:
    """A Dagster deployment that is already up (a cluster's webserver at ``url``): its daemon and run launcher do
    the work, so nothing is started here."""
    graphql = GraphQL(url)
    deadline = time.monotonic() + timeout_s
    while not graphql.up():
        if time.monotonic() > deadline:
            raise ServiceError(f"no Dagster webserver answers at {url}/server_info")
        time.sleep(1)
    yield Services(url, graphql, [])


@contextmanager
def dagster_services(*, home: Path, logs: Path, env: dict[str, str], repo_root: Path, ui_port: int = 3000,
                     startup_timeout_s: float = 300) -> Iterator[Services]:
    """Start code server, UI and daemon; stop all three on exit (also on KeyboardInterrupt)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    grpc_port = free_port()
    ui_port = free_port(ui_port)
    with ExitStack() as stack:
        def started(service: Service) -> Service:
            stack.callback(service.stop)
            return service

        code = started(_start("code server", [str(bin_dir / "dagster"), "code-server", "start", "-h", "127.0.0.1",
                                              "-p", str(grpc_port), "-m", DEFINITIONS_MODULE,
                                              "--location-name", CODE_LOCATION],
                              logs / "code-server.log", env, repo_root))
        _wait(code, lambda: _listening(grpc_port), startup_timeout_s)
        workspace = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bw-workspace-"))) / "workspace.yaml"
        workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
            "host": "127.0.0.1", "port": grpc_port, "location_name": CODE_LOCATION}}]}))
        ui = started(_start("dagster-webserver", [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1",
                                                  "-p", str(ui_port), "-w", str(workspace)],
                            logs / "webserver.log", env, repo_root))
        daemon = started(_start("dagster-daemon", [sys.executable, "-m", "baseweight_assets.cli.daemon",
                                                   "--interval", str(BACKFILL_INTERVAL_S), "-w", str(workspace)],
                                logs / "daemon.log", env, repo_root))
        url = f"http://127.0.0.1:{ui_port}"
        graphql = GraphQL(url)
        _wait(ui, graphql.up, startup_timeout_s)
        yield Services(url, graphql, [code, ui, daemon])
