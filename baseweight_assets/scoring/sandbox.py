"""Run untrusted Python programs (model-generated MBPP code) in a throwaway, locked-down process.

Isolation: bubblewrap (``/usr/bin/bwrap``) when it works here: new pid/net/ipc/uts/cgroup namespaces
(no network, cannot see or signal host processes), a root filesystem holding only read-only ``/usr``
and the interpreter, a private ``/tmp``, a scrubbed environment, and a throwaway working directory.
Inside, the runner drops root (to a uid unique to each concurrent slot, so ``RLIMIT_NPROC`` counts only
that program's processes) and sets CPU-time, address-space, process-count and file-size limits before
the program is compiled. The host enforces the wall-clock timeout and kills the whole process tree.
Without a working bwrap the same runner runs under resource limits only ("rlimits"), with a warning:
that fallback has no network or filesystem isolation.

Memory is limited per process (``RLIMIT_AS``); with ``max_processes`` children the worst case is their
product, so keep both modest.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)

STATUSES = ("pass", "syntax_error", "runtime_error", "timeout", "wrong_answer")
_RUNNER = Path(__file__).with_name("sandbox_runner.py")
_EXIT_STATUS = {10: "syntax_error", 11: "runtime_error", 12: "wrong_answer", 13: "runtime_error"}
_TAIL = 2000
_BASE_UID = 61000  # unprivileged uids for the sandboxed programs when the host runs as root
_SLOTS: queue.Queue[int] = queue.Queue()
for _slot in range(256):
    _SLOTS.put(_slot)


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    max_processes: int = 32
    max_file_mb: int = 16

    @classmethod
    def from_task(cls, sandbox: dict, timeout_s: float | None = None) -> SandboxLimits:
        """Limits from a task YAML's ``sandbox`` mapping (unknown keys raise), optionally a new timeout."""
        limits = cls(**sandbox)
        if timeout_s is not None:
            limits = cls(**{**limits.__dict__, "timeout_s": timeout_s})
        return limits


@dataclass(frozen=True)
class ProgramResult:
    status: str  # one of STATUSES
    stderr: str  # tail of stderr (or the reason for a timeout)
    returncode: int | None
    wall_s: float


def _interpreter() -> tuple[str, str]:
    """(host prefix to mount, interpreter path inside the sandbox) for the base (non-venv) Python."""
    exe = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    prefix = os.path.realpath(sys.base_prefix)
    if exe.startswith(prefix + os.sep):
        return prefix, "/opt/python" + exe[len(prefix) :]
    return "", exe


def _bwrap_command(workdir: str) -> list[str]:
    prefix, exe = _interpreter()
    cmd = ["bwrap", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        target = os.path.join("/", name)
        if os.path.islink(target):
            cmd += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            cmd += ["--ro-bind", target, target]
    if prefix:
        cmd += ["--perms", "0755", "--dir", "/opt", "--ro-bind", prefix, "/opt/python"]
    cmd += [
        "--bind", workdir, "/sandbox", "--chdir", "/sandbox",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/sandbox",
    ]
    if os.geteuid() != 0:
        cmd.append("--unshare-user")
    return cmd + ["--", exe, "-I", "-S", "/sandbox/runner.py"]


@functools.lru_cache(maxsize=1)
def isolation_backend() -> str:
    """"bubblewrap" when a probe program runs under bwrap here, else "rlimits" (with a warning)."""
    if shutil.which("bwrap"):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = _bwrap_command(tmp)
            cmd[-1] = "-c"
            cmd.append("print('ok')")
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env={})
                if proc.returncode == 0 and proc.stdout.strip() == "ok":
                    return "bubblewrap"
                reason = proc.stderr.strip()[-300:]
            except (OSError, subprocess.TimeoutExpired) as exc:
                reason = str(exc)
    else:
        reason = "bwrap not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    log.warning(
        "code sandbox: bubblewrap unavailable (%s); falling back to resource limits only. Generated "
        "code will then share this machine's network and filesystem view.", reason
    )
    return "rlimits"


def _tail(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - _TAIL))
        return fh.read().decode("utf-8", errors="replace")


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_program(code: str, limits: SandboxLimits, *, tests: Sequence[str] = (), setup: str = "") -> ProgramResult:
    """Run ``code`` then ``setup`` then each test statement; "pass" only if every test ran cleanly."""
    slot = _SLOTS.get()
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bw-sandbox-") as tmp:
            work = Path(tmp, "work")
            work.mkdir()
            uid = _BASE_UID + slot if os.geteuid() == 0 else None
            job = {"uid": uid, "cpu_s": int(limits.cpu_s), "memory_mb": int(limits.memory_mb),
                   "max_processes": int(limits.max_processes), "max_file_mb": int(limits.max_file_mb),
                   "setup": setup or "", "tests": list(tests)}
            (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
            (work / "solution.py").write_text(code, encoding="utf-8", errors="replace")
            shutil.copyfile(_RUNNER, work / "runner.py")
            if uid is not None:
                os.chown(work, uid, uid)
            token = secrets.token_hex(16)
            out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
            if isolation_backend() == "bubblewrap":
                cmd, cwd = _bwrap_command(str(work)), None
            else:
                cmd, cwd = [os.path.realpath(getattr(sys, "_base_executable", sys.executable)), "-I", "-S",
                            str(work / "runner.py")], str(work)
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=out, stderr=err,
                                        env={"PATH": "/usr/bin:/bin"}, start_new_session=True)
                try:
                    proc.stdin.write(f"{token}\n".encode())
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                try:
                    rc = proc.wait(timeout=limits.timeout_s)
                except subprocess.TimeoutExpired:
                    _kill_tree(proc)
                    return ProgramResult("timeout", f"wall-clock limit {limits.timeout_s}s exceeded",
                                         None, time.monotonic() - start)
                _kill_tree(proc)  # stray children left in the process group
            stderr = _tail(err_path)
            wall = time.monotonic() - start
            if rc == 0 and _tail(out_path).rstrip().endswith(f"BW-PASS {token}"):
                return ProgramResult("pass", stderr, rc, wall)
            if rc in (-signal.SIGXCPU, 128 + signal.SIGXCPU) or (rc in (-signal.SIGKILL, 137) and
                                                                  wall >= limits.cpu_s):
                return ProgramResult("timeout", stderr or "CPU-time limit exceeded", rc, wall)
            return ProgramResult(_EXIT_STATUS.get(rc, "runtime_error"), stderr, rc, wall)
    finally:
        _SLOTS.put(slot)


def run_programs(codes: list[str], limits: SandboxLimits, workers: int | None = None, *,
                 tests: list[Sequence[str]] | None = None, setups: list[str] | None = None) -> list[ProgramResult]:
    """Run many programs in parallel (default: one per CPU core); results keep the input order."""
    n = len(codes)
    tests = tests if tests is not None else [()] * n
    setups = setups if setups is not None else [""] * n
    if len(tests) != n or len(setups) != n:
        raise ValueError(f"run_programs: {n} codes but {len(tests)} test lists and {len(setups)} setups")
    isolation_backend()  # probe (and warn) once, before the threads start
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda i: run_program(codes[i], limits, tests=tests[i], setup=setups[i]), range(n)))
