"""Local OpenAI-compatible servers as context managers (``vllm serve`` on GPU hosts; ``ManagedServer`` for any).

Each runs in its own process group on a free 127.0.0.1 port, logs to a file, is polled on /health until it
answers (or dies, or times out), and the whole group is killed on exit: no process is left behind, also on
KeyboardInterrupt or an exception while starting.

The step may also die without running any exit code (``kill -9``, the OOM killer). Two guards cover that:
- the group's leader is ``server_watchdog.py``, which takes the group down when its parent (the step) dies;
- a pidfile next to the server log (``<log>.pid``) records the group's processes by pid and start time, and the
  next server started with that log (the next step of the partition) first stops those that still run, in case
  the watchdog itself was killed. A recorded pid is acted on only while it is still the same process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

from baseweight_assets.storage.atomic import read_json, write_json
from baseweight_assets.storage.liveness import is_running, machine_token, process_token, start_centis, token_is_running

_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                "TOKENIZERS_PARALLELISM": "false"}
_WATCHDOG = Path(__file__).with_name("server_watchdog.py")
PIDFILE_SUFFIX = ".pid"
# vLLM's --max-lora-rank accepts only these values.
_VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def watched(command: list[str], grace_s: float) -> list[str]:
    """``command`` run under the watchdog (``server_watchdog.py``): it leads a new process group and takes the whole
    group down when this process dies, even by ``kill -9``. Start the result with ``start_new_session=True``."""
    return [sys.executable, str(_WATCHDOG), str(os.getpid()), str(grace_s), "--", *command]


class ServerStartError(RuntimeError):
    """The server exited or did not become healthy in time; the message quotes the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _cli(name: str) -> str:
    beside = Path(sys.executable).parent / name  # the venv's own entry point first
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise ServerStartError(f"`{name}` command not found (install it in this environment)")
    return found


def log_tail(path: Path, n: int = 3000) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return "<no log>"


def wait_ready(ready: Callable[[], bool], proc: subprocess.Popen, *, name: str, log_path: Path, timeout_s: float,
               error: type[Exception], poll_s: float = 0.25) -> None:
    """Poll ``ready()`` until it holds; raise ``error`` with the log's tail if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc.poll() is not None:
            raise error(f"{name} exited with code {proc.returncode} before it was ready; log {log_path}:\n"
                        f"{log_tail(log_path)}")
        if time.monotonic() > deadline:
            raise error(f"{name} not ready after {timeout_s:.0f}s; log {log_path}:\n{log_tail(log_path)}")
        time.sleep(poll_s)


def pidfile_for(log_path: Path) -> Path:
    """Where the server logging to ``log_path`` records its processes."""
    return Path(log_path).with_name(Path(log_path).name + PIDFILE_SUFFIX)


def _group_members(leader_pid: int) -> list[list[int]]:
    """[pid, start centis] of the leader and every descendant (the server and its workers)."""
    try:
        procs = [psutil.Process(leader_pid), *psutil.Process(leader_pid).children(recursive=True)]
    except psutil.Error:
        return []
    return [[p.pid, started] for p in procs if (started := start_centis(p.pid)) is not None]


def cleanup_stale_server(pidfile: Path, log: Callable[[str], None] = print, grace_s: float = 5.0) -> list[int]:
    """Stop what a dead step's server left running, as recorded in ``pidfile``; return the pids signalled.

    Nothing is done when the pidfile's owner (the step) still runs, or when it was written on another machine or
    before a reboot. Otherwise every recorded process that is still the same process (pid and start time) gets
    SIGTERM, then SIGKILL after ``grace_s``; when the recorded leader is still itself, its whole process group
    does (workers started after the record included). The pidfile is removed once nothing recorded runs.
    """
    pidfile = Path(pidfile)
    if not pidfile.exists():
        return []
    try:
        record = read_json(pidfile)
        pgid, members, owner = int(record["pgid"]), record["members"], record["owner"]
    except (ValueError, KeyError, TypeError):
        log(f"{pidfile}: not a server pidfile this code wrote; left alone")
        return []
    if record.get("machine") != machine_token() or token_is_running(owner):
        return []  # another host's or another boot's server, or its step is alive and owns it
    alive = []
    for pid, started in members:
        try:
            if is_running(pid, started):
                alive.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    signalled = [p.pid for p in alive]
    leader_alive = pgid in signalled
    if alive:
        log(f"{pidfile}: stopping a server left behind by a dead step (pids {signalled}, "
            f"command {' '.join(record.get('command', []))[:200]})")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive:
            break
        # SIGCONT after SIGTERM: a stopped process would otherwise hold the signal until the SIGKILL
        for s in (sig, signal.SIGCONT) if sig == signal.SIGTERM else (sig,):
            if leader_alive:
                try:
                    os.killpg(pgid, s)
                except ProcessLookupError:
                    leader_alive = False
            for proc in alive:
                try:
                    proc.send_signal(s)
                except psutil.NoSuchProcess:
                    pass
        _, alive = psutil.wait_procs(alive, timeout=grace_s if sig == signal.SIGTERM else 5.0)
    if not alive:
        pidfile.unlink(missing_ok=True)
    return signalled


def sweep_stale_servers(folder: Path, log: Callable[[str], None] = print) -> list[int]:
    """``cleanup_stale_server`` for every ``*.log.pid`` under ``folder`` (e.g. the results' logs/ at run start)."""
    pidfiles = sorted(Path(folder).rglob(f"*.log{PIDFILE_SUFFIX}"))
    return [pid for path in pidfiles for pid in cleanup_stale_server(path, log)]


class ManagedServer:
    """Start ``command`` (a list) under the watchdog in a new session, wait for ``/health``, kill the process
    group on exit; a server a dead step left with the same log is stopped first (see the module docstring)."""

    def __init__(self, command: list[str], log_path: Path, *, host: str, port: int, startup_timeout_s: float,
                 env: dict | None = None, name: str = "server", stop_grace_s: float = 10.0,
                 log: Callable[[str], None] = print) -> None:
        self.command, self.log_path, self.host, self.port = command, Path(log_path), host, port
        self.startup_timeout_s, self.name, self.stop_grace_s, self.log = startup_timeout_s, name, stop_grace_s, log
        self.env = {**os.environ, **_OFFLINE_ENV, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.base_url = f"http://{host}:{port}/v1"
        self.pidfile = pidfile_for(self.log_path)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _record(self) -> None:
        """Write the pidfile: this group's processes now, by pid and start time, and the step that owns them."""
        write_json(self.pidfile, {"pgid": self.proc.pid, "members": _group_members(self.proc.pid),
                                  "owner": process_token(), "machine": machine_token(), "command": self.command,
                                  "port": self.port}, indent=2)

    def __enter__(self) -> ManagedServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cleanup_stale_server(self.pidfile, self.log)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                watched(self.command, self.stop_grace_s), stdout=log, stderr=subprocess.STDOUT, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        try:
            self._record()
            wait_ready(self._healthy, self.proc, name=self.name, log_path=self.log_path,
                       timeout_s=self.startup_timeout_s, error=ServerStartError)
            self._record()  # again, now that the server has started its workers
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, grace_s: float | None = None) -> None:
        if self.proc is None:
            return
        grace_s = self.stop_grace_s if grace_s is None else grace_s
        for sig, wait in ((signal.SIGTERM, grace_s + 2.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)  # the group: watchdog, uvicorn / vLLM engine workers too
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                # the leader is gone; make sure no child of the group survives it
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
            break
        try:
            if read_json(self.pidfile).get("pgid") == self.proc.pid:
                self.pidfile.unlink(missing_ok=True)
        except (OSError, ValueError, AttributeError):
            pass
        self.proc = None


def _lora_rank(adapter_dir: Path) -> int | None:
    config = Path(adapter_dir) / "adapter_config.json"
    if not config.exists():
        return None
    data = json.loads(config.read_text(encoding="utf-8"))
    ranks = [data.get("r") or 0, *(data.get("rank_pattern") or {}).values()]
    return max(int(r) for r in ranks)


def vllm_serve_command(base_model: str, revision: str, adapters: dict[str, Path], *, port: int,
                       max_model_len: int, gpu_memory_utilization: float = 0.9) -> list[str]:
    """One vLLM server per base model (bf16), every task's adapters loaded by name at startup."""
    command = ["vllm", "serve", base_model, "--revision", revision, "--host", "127.0.0.1", "--port", str(port),
               "--dtype", "bfloat16", "--max-model-len", str(max_model_len),
               "--gpu-memory-utilization", str(gpu_memory_utilization), "--generation-config", "vllm"]
    if adapters:
        command += ["--enable-lora", "--max-loras", str(len(adapters)), "--lora-modules"]
        command += [f"{name}={Path(path)}" for name, path in sorted(adapters.items())]
        ranks = [r for r in (_lora_rank(Path(p)) for p in adapters.values()) if r]
        if ranks:
            fitting = [r for r in _VLLM_LORA_RANKS if r >= max(ranks)]
            if not fitting:
                raise ValueError(f"LoRA rank {max(ranks)} exceeds vLLM's maximum {_VLLM_LORA_RANKS[-1]}")
            command += ["--max-lora-rank", str(fitting[0])]
    return command


class VllmServer(ManagedServer):
    """`vllm serve` around ``vllm_serve_command`` (GPU hosts only); adapters are requested by their name."""

    def __init__(self, log_path: Path, base_model: str, revision: str, adapters: dict[str, Path], *,
                 max_model_len: int, gpu_memory_utilization: float = 0.9, port: int | None = None,
                 startup_timeout_s: float = 1200, env: dict | None = None, log: Callable[[str], None] = print) -> None:
        port = port or free_port()
        command = vllm_serve_command(base_model, revision, adapters, port=port, max_model_len=max_model_len,
                                     gpu_memory_utilization=gpu_memory_utilization)
        command[0] = _cli("vllm")
        super().__init__(command, log_path, host="127.0.0.1", port=port, startup_timeout_s=startup_timeout_s,
                         env={"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", **(env or {})}, name="vllm serve",
                         log=log)
