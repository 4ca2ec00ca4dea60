"""Local OpenAI-compatible servers as context managers: `transformers serve` (CPU) and `vllm serve` (GPU).

Each runs in its own process group on a free 127.0.0.1 port, logs to a file, is polled on /health until it
answers (or dies, or times out), and the whole group is killed on exit: no process is left behind, also on
KeyboardInterrupt or an exception while starting.
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
from pathlib import Path

_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                "TOKENIZERS_PARALLELISM": "false"}
# vLLM's --max-lora-rank accepts only these values.
_VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


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


def _log_tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return "<no log>"


class ManagedServer:
    """Start ``command`` (a list) in a new session, wait for ``/health``, kill the process group on exit."""

    def __init__(self, command: list[str], log_path: Path, *, host: str, port: int, startup_timeout_s: float,
                 env: dict | None = None, name: str = "server") -> None:
        self.command, self.log_path, self.host, self.port = command, Path(log_path), host, port
        self.startup_timeout_s, self.name = startup_timeout_s, name
        self.env = {**os.environ, **_OFFLINE_ENV, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.base_url = f"http://{host}:{port}/v1"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def __enter__(self) -> ManagedServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        try:
            deadline = time.monotonic() + self.startup_timeout_s
            while not self._healthy():
                if self.proc.poll() is not None:
                    raise ServerStartError(f"{self.name} exited with code {self.proc.returncode} before it was "
                                           f"healthy; log {self.log_path}:\n{_log_tail(self.log_path)}")
                if time.monotonic() > deadline:
                    raise ServerStartError(f"{self.name} not healthy after {self.startup_timeout_s}s; "
                                           f"log {self.log_path}:\n{_log_tail(self.log_path)}")
                time.sleep(0.25)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, grace_s: float = 10.0) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)  # the group: uvicorn / vLLM engine workers too
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
        self.proc = None


class TransformersServer(ManagedServer):
    """`transformers serve` on CPU; each request's ``model`` is a local model folder path."""

    def __init__(self, log_path: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 startup_timeout_s: float = 180, env: dict | None = None) -> None:
        port = port or free_port(host)
        command = [_cli("transformers"), "serve", "--host", host, "--port", str(port), "--device", "cpu"]
        super().__init__(command, log_path, host=host, port=port, startup_timeout_s=startup_timeout_s, env=env,
                         name="transformers serve")


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
                 startup_timeout_s: float = 1200, env: dict | None = None) -> None:
        port = port or free_port()
        command = vllm_serve_command(base_model, revision, adapters, port=port, max_model_len=max_model_len,
                                     gpu_memory_utilization=gpu_memory_utilization)
        command[0] = _cli("vllm")
        super().__init__(command, log_path, host="127.0.0.1", port=port, startup_timeout_s=startup_timeout_s,
                         env={"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", **(env or {})}, name="vllm serve")
