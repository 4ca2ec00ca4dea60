"""Run untrusted Python programs (model-generated MBPP code) so that they can neither forge a pass nor escape.

Judging (``sandbox_judge``): each test's asserts are split into *probes* (the calls that need the program) and
the rest (the expected value and the comparison). Only the probes enter the sandbox; ``sandbox_runner`` evaluates
them and sends their values back as plain data over a pipe; this process compares them with expected values the
program never sees. Exit tricks, printed tokens, patched builtins or frame walking cannot produce a pass.

Isolation (docs/SECURITY.md has the threat model and which test proves each claim):
- bubblewrap: new pid/net/ipc/uts/cgroup namespaces (no network, not even loopback; no host process visible),
  a root filesystem of read-only ``/usr`` and the interpreter, ``/tmp`` and the working directory as size-capped
  tmpfs (``tmp_mb`` each), a cleared environment. As root the program runs as a uid unique to its host-wide
  slot (``sandbox_slots``) with no capabilities; otherwise in a user namespace that cannot nest another.
- bounds: CPU time, per-process address space, processes, file size (rlimits); a wall-clock limit and a
  per-test limit enforced from here; and, where the host offers a cgroup (``sandbox_cgroup``), one memory
  and task bound for the program's whole process tree. ``memory_bound_mb`` states the bound that holds.
- no silent weak mode: without a working bubblewrap, running a program raises ``SandboxUnavailable`` unless the
  caller passed ``allow_unsandboxed=True``; the backend used is on every ``ProgramResult``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from baseweight_assets.scoring.sandbox_cgroup import CgroupLeaf, find_cgroup_parent
from baseweight_assets.scoring.sandbox_judge import (
    ProbeRaised, TestPlan, decode_value, judge_test, plan_test, shadowed_names,
)
from baseweight_assets.scoring.sandbox_slots import SLOT_BASE_UID, hold_slot

log = logging.getLogger(__name__)

STATUSES = ("pass", "syntax_error", "runtime_error", "timeout", "wrong_answer")
TEST_STATUSES = ("pass", "wrong_answer", "runtime_error", "timeout", "not_run")
_RUNNER = Path(__file__).with_name("sandbox_runner.py")
_RUNNER_IN_SANDBOX = "/opt/baseweight/runner.py"
_TAIL = 2000
_MAX_CHANNEL_BYTES = 8 << 20
_BWRAP_TASKS = 2  # bubblewrap's own processes in the program's cgroup (the outer bwrap and its pid-1 init)
_JOIN_CGROUP = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ >"$1" || exit 125; shift; n=$((n-1)); done; exec "$@"'


class SandboxUnavailable(RuntimeError):
    """Generated code would run without bubblewrap and the caller did not opt in to that."""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0  # wall clock for the whole program, from start to the last test
    cpu_s: int = 10  # CPU seconds per process
    memory_mb: int = 1024  # per process (RLIMIT_AS) and, under a cgroup, for the whole process tree
    max_processes: int = 32  # processes and threads of the program
    max_file_mb: int = 16  # largest file it may write
    tmp_mb: int = 64  # size of its /tmp and of its working directory (each a tmpfs)
    test_timeout_s: float | None = None  # wall clock per test (and for loading the program); None: timeout_s

    @classmethod
    def from_task(cls, sandbox: dict, timeout_s: float | None = None) -> SandboxLimits:
        """Limits from a task YAML's ``sandbox`` mapping (unknown keys raise), optionally a new timeout."""
        limits = cls(**sandbox)
        if timeout_s is not None:
            limits = cls(**{**limits.__dict__, "timeout_s": timeout_s})
        return limits


@dataclass(frozen=True)
class ProgramResult:
    status: str  # one of STATUSES: the first test that did not pass decides it
    stderr: str  # why it failed (judge's reason, limit hit), then the tail of the program's stderr
    returncode: int | None
    wall_s: float
    backend: str = ""  # isolation_backend() it ran under
    tests: tuple[str, ...] = ()  # one of TEST_STATUSES per test, in order
    memory_bound_mb: float | None = None  # the stated bound on the whole program's memory (memory_bound_mb())
    peak_memory_mb: float | None = None  # measured peak of the whole tree (cgroup backends only)
    stdout: str = field(default="", repr=False)  # tail of what the program printed


def _interpreter() -> tuple[str, str]:
    """(host prefix to mount, interpreter path inside the sandbox) for the base (non-venv) Python."""
    exe = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    prefix = os.path.realpath(sys.base_prefix)
    if exe.startswith(prefix + os.sep):
        return prefix, "/opt/python" + exe[len(prefix) :]
    return "", exe


def _bwrap_command(tmp_mb: int) -> list[str]:
    """bwrap arguments up to the interpreter (the caller appends its arguments)."""
    prefix, exe = _interpreter()
    cmd = ["bwrap", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        target = os.path.join("/", name)
        if os.path.islink(target):
            cmd += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            cmd += ["--ro-bind", target, target]
    # Directories bwrap creates on its own are 0700: the program's uid could not reach the stdlib below them.
    cmd += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", os.path.dirname(_RUNNER_IN_SANDBOX)]
    if prefix:
        cmd += ["--ro-bind", prefix, "/opt/python"]
    size = str(int(tmp_mb) << 20)
    cmd += [
        "--ro-bind", str(_RUNNER), _RUNNER_IN_SANDBOX,
        "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
        "--perms", "1777", "--size", size, "--tmpfs", "/sandbox", "--chdir", "/sandbox",
        "--proc", "/proc", "--dev", "/dev",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/sandbox",
    ]
    if os.geteuid() == 0:  # the runner needs exactly these two to drop to the slot's uid; then it has none
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user"] + (["--disable-userns"] if _bwrap_has("--disable-userns") else [])
    return cmd + ["--", exe, "-I", "-S"]


@functools.lru_cache(maxsize=None)
def _bwrap_has(option: str) -> bool:
    """Whether this bubblewrap knows ``option`` (``--disable-userns`` arrived in 0.8)."""
    try:
        help_text = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in help_text.split()


@functools.lru_cache(maxsize=1)
def _bubblewrap_status() -> tuple[bool, str]:
    """(works, reason): whether a probe program runs under the same bwrap arguments here."""
    if not shutil.which("bwrap"):
        return False, "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    cmd = _bwrap_command(1) + ["-c", "print('ok')"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if proc.returncode == 0 and proc.stdout.strip() == "ok":
        return True, ""
    return False, (proc.stderr.strip() or f"exit status {proc.returncode}")[-300:]


@functools.lru_cache(maxsize=1)
def _warn_unsandboxed(reason: str) -> None:
    log.warning("code sandbox: running generated code WITHOUT bubblewrap (%s), as the caller opted in: it shares "
                "this machine's network, filesystem view and processes; only resource limits apply", reason)


def isolation_backend(allow_unsandboxed: bool = False) -> str:
    """The backend programs run under here: ``<isolation>+<bound>``.

    isolation: ``bubblewrap`` where a probe program runs under bwrap, else ``unsandboxed`` -- only when
    ``allow_unsandboxed``; without it this raises ``SandboxUnavailable`` naming the reason and the opt-in.
    bound: ``cgroup-v1``/``cgroup-v2`` where a cgroup bounds the whole process tree, else ``rlimits``.
    """
    ok, reason = _bubblewrap_status()
    cgroup = find_cgroup_parent()
    bound = f"cgroup-{cgroup.version}" if cgroup else "rlimits"
    if ok:
        return f"bubblewrap+{bound}"
    if not allow_unsandboxed:
        raise SandboxUnavailable(
            f"refusing to run generated code: bubblewrap does not work here ({reason}). Install bubblewrap "
            "(and allow unprivileged user namespaces, see docs/SECURITY.md), or opt in to running it under "
            "resource limits only with allow_unsandboxed=True (BASEWEIGHT_ALLOW_UNSANDBOXED_CODE=1)")
    _warn_unsandboxed(reason)
    return f"unsandboxed+{bound}"


def memory_bound_mb(limits: SandboxLimits, backend: str) -> float:
    """The most memory one program's whole process tree can hold under ``backend``, in MiB.

    With a cgroup: ``memory_mb`` (its tmpfs pages are charged to it too). With rlimits only: every one of
    ``max_processes`` processes at ``memory_mb`` of address space, plus the two tmpfs under bubblewrap.
    """
    if "+cgroup" in backend:
        return float(limits.memory_mb)
    tmpfs = 2 * limits.tmp_mb if backend.startswith("bubblewrap") else 0
    return float(limits.max_processes * limits.memory_mb + tmpfs)


def _tail(fh, n: int = _TAIL) -> str:
    fh.seek(0, os.SEEK_END)
    fh.seek(max(0, fh.tell() - n))
    return fh.read().decode("utf-8", errors="replace")


@dataclass
class _Channel:
    """What the runner (or anything pretending to be it) reported."""

    loaded: bool = False
    load_error: tuple[str, str] | None = None
    current: int | None = None  # the test in progress
    values: dict[int, dict[int, object]] = field(default_factory=dict)
    done: bool = False
    timed_out: str = ""  # why the host stopped waiting

    def feed(self, line: bytes) -> None:
        try:
            event = json.loads(line)
            kind = event["ev"]
        except (ValueError, TypeError, KeyError, RecursionError):
            return  # not the runner's line: whatever the program wrote there, an unanswered probe fails
        if kind == "load":
            self.loaded = True
        elif kind == "load_error":
            self.load_error = (str(event.get("kind")), str(event.get("msg"))[:500])
        elif kind == "test" and isinstance(event.get("i"), int):
            self.current = event["i"]
        elif kind == "probe" and isinstance(event.get("i"), int) and isinstance(event.get("k"), int):
            try:
                value = (ProbeRaised(str(event["raised"])[:100], str(event.get("msg"))[:500]) if "raised" in event
                         else decode_value(event["v"]))
            except (ValueError, KeyError, RecursionError):
                return
            self.values.setdefault(event["i"], {})[event["k"]] = value
        elif kind == "done":
            self.done = True


def _read_channel(fd: int, proc: subprocess.Popen, limits: SandboxLimits, start: float) -> _Channel:
    """Read events until the runner is done, the pipe closes or a wall-clock limit passes."""
    channel, buffer, total = _Channel(), b"", 0
    deadline = start + limits.timeout_s
    per_test = min(limits.test_timeout_s or limits.timeout_s, limits.timeout_s)
    phase_deadline, phase = deadline, ""
    while not channel.done:
        now = time.monotonic()
        if now >= min(deadline, phase_deadline):
            channel.timed_out = (f"wall-clock limit {limits.timeout_s}s exceeded" if now >= deadline else
                                 f"{phase}per-test limit of {per_test}s exceeded")
            break
        ready, _, _ = select.select([fd], [], [], min(min(deadline, phase_deadline) - now, 0.25))
        if not ready:
            if proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
                break  # exited; a stray child of an unsandboxed program may still hold the pipe open
            continue
        data = os.read(fd, 1 << 16)
        if not data:
            break
        total += len(data)
        if total > _MAX_CHANNEL_BYTES:
            channel.load_error = channel.load_error or ("runtime", "the program flooded the result channel")
            break
        *lines, buffer = (buffer + data).split(b"\n")
        for line in lines:
            before = (channel.loaded, channel.current)
            channel.feed(line)
            if (channel.loaded, channel.current) != before:
                phase = "loading the program: " if channel.current is None else ""
                phase_deadline = time.monotonic() + per_test
    return channel


def _kill(proc: subprocess.Popen, leaf: CgroupLeaf | None, grace_s: float) -> int:
    """Kill what is left of the program and return its exit status (its own, when it exits within grace_s)."""
    try:
        rc = proc.wait(timeout=grace_s) if grace_s > 0 else None
    except subprocess.TimeoutExpired:
        rc = None
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bwrap dies, and its pid namespace with every process in it
    except (ProcessLookupError, PermissionError):
        pass
    if leaf is not None:
        leaf.kill()  # the unsandboxed backend's stray processes that left the process group
    waited = proc.wait()
    return waited if rc is None else rc


def _death_reason(channel: _Channel, rc: int | None, wall: float, limits: SandboxLimits,
                  oom_kills: int) -> tuple[str, str]:
    """Status and reason for the test the program did not finish."""
    if channel.timed_out:
        return "timeout", channel.timed_out
    if rc in (-signal.SIGXCPU, 128 + signal.SIGXCPU) or (
            rc in (-signal.SIGKILL, 128 + signal.SIGKILL) and not oom_kills and wall >= limits.cpu_s):
        return "timeout", f"CPU-time limit {limits.cpu_s}s exceeded"
    if oom_kills:
        return "runtime_error", f"memory limit of the whole program ({limits.memory_mb} MiB) exceeded"
    return "runtime_error", f"the program ended (exit status {rc}) before answering every probe"


def _outcomes(plans: Sequence[TestPlan], channel: _Channel, death: tuple[str, str]) -> tuple[str, tuple[str, ...], str]:
    """(program status, per-test statuses, reason) from what the runner reported."""
    if channel.load_error:
        kind, msg = channel.load_error
        return ("syntax_error" if kind == "syntax" else "runtime_error"), ("not_run",) * len(plans), msg
    if not channel.done and channel.current is None:  # it never got past loading
        return death[0], (death[0],) * bool(plans) + ("not_run",) * (len(plans) - 1), death[1]
    statuses: list[str] = []
    reason = ""
    for i, plan in enumerate(plans):
        values = channel.values.get(i, {})
        if any(k not in values for k in range(len(plan.probes))):
            statuses += [death[0]] + ["not_run"] * (len(plans) - i - 1)
            reason = reason or f"test {i}: {death[1]}"
            break
        status, why = judge_test(plan, values)
        statuses.append(status)
        if status != "pass" and not reason:
            reason = f"test {i}: {why}"
    first = next((s for s in statuses if s != "pass"), "pass")
    return first, tuple(statuses), reason


def _job(code: str, setup: str, plans: Sequence[TestPlan], limits: SandboxLimits, uid: int | None) -> bytes:
    return json.dumps({
        "code": code, "setup": setup or "", "uid": uid, "cpu_s": int(limits.cpu_s),
        "memory_mb": int(limits.memory_mb), "max_processes": int(limits.max_processes),
        "max_file_mb": int(limits.max_file_mb),
        "probes": [[[p.source, p.materialize] for p in plan.probes] for plan in plans],
    }).encode("utf-8", errors="surrogatepass")


def _run_in_slot(code: str, setup: str, plans: Sequence[TestPlan], limits: SandboxLimits, backend: str,
                 slot: int) -> ProgramResult:
    start = time.monotonic()
    sandboxed = backend.startswith("bubblewrap")
    cgroup = find_cgroup_parent() if "+cgroup" in backend else None
    leaf = cgroup.leaf(f"slot-{slot:03d}") if cgroup else None
    uid = SLOT_BASE_UID + slot if os.geteuid() == 0 else None
    read_fd, write_fd = os.pipe()
    workdir = None if sandboxed else tempfile.TemporaryDirectory(prefix="bw-sandbox-")
    try:
        runner = _RUNNER_IN_SANDBOX if sandboxed else str(_RUNNER)
        cmd = (_bwrap_command(limits.tmp_mb) if sandboxed else
               [os.path.realpath(getattr(sys, "_base_executable", sys.executable)), "-I", "-S"])
        cmd += [runner, str(write_fd)]
        if leaf is not None:
            leaf.limit(int(limits.memory_mb) << 20, int(limits.max_processes) + (_BWRAP_TASKS if sandboxed else 0))
            cmd = ["/bin/sh", "-c", _JOIN_CGROUP, "sh", str(len(leaf.procs_files)), *leaf.procs_files, *cmd]
        if workdir is not None and uid is not None:
            os.chown(workdir.name, uid, uid)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, cwd=workdir.name if workdir else None, stdin=subprocess.PIPE, stdout=out,
                                    stderr=err, pass_fds=(write_fd,), env={"PATH": "/usr/bin:/bin"},
                                    start_new_session=True)
            os.close(write_fd)
            write_fd = -1
            try:
                proc.stdin.write(_job(code, setup, plans, limits, uid))
                proc.stdin.close()
            except BrokenPipeError:
                pass
            channel = None
            try:
                channel = _read_channel(read_fd, proc, limits, start)
            finally:  # a runner that finished exits by itself within a few ms: keep its own exit status
                rc = _kill(proc, leaf, 0.1 if channel is not None and not channel.timed_out else 0.0)
            wall = time.monotonic() - start
            usage = leaf.usage() if leaf is not None else None
            stderr, stdout = _tail(err), _tail(out)
        if not channel.loaded and not channel.timed_out:
            raise RuntimeError(f"code sandbox failed to start ({backend}, exit status {rc}): {stderr[-500:]}")
        death = _death_reason(channel, rc, wall, limits, usage.oom_kills if usage else 0)
        status, tests, reason = _outcomes(plans, channel, death)
        return ProgramResult(
            status, (reason + "\n" + stderr if reason else stderr)[-_TAIL:], rc, wall, backend, tests,
            memory_bound_mb(limits, backend),
            round(usage.peak_bytes / 2**20, 1) if usage and usage.peak_bytes is not None else None, stdout)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
        if leaf is not None:
            leaf.remove()
        if workdir is not None:
            workdir.cleanup()


def run_program(code: str, limits: SandboxLimits, *, tests: Sequence[str] = (), setup: str = "",
                allow_unsandboxed: bool = False) -> ProgramResult:
    """Run ``code``, then ``setup``, then judge each test (an ``assert`` statement, or several).

    "pass" only if every test's asserts hold on the values the program returned. ``ValueError`` for a test
    that is not made of asserts; ``SandboxUnavailable`` without bubblewrap unless ``allow_unsandboxed``.
    """
    shadowed = shadowed_names(code, setup)
    plans = [plan_test(t, shadowed) for t in tests]
    backend = isolation_backend(allow_unsandboxed)
    with hold_slot() as slot:
        return _run_in_slot(code, setup, plans, limits, backend, slot)


def run_programs(codes: list[str], limits: SandboxLimits, workers: int | None = None, *,
                 tests: list[Sequence[str]] | None = None, setups: list[str] | None = None,
                 allow_unsandboxed: bool = False) -> list[ProgramResult]:
    """Run many programs in parallel (default: one per CPU core); results keep the input order.

    Every test is checked before anything runs: a malformed one raises ``ValueError`` naming its program and
    test index, and nothing is lost.
    """
    n = len(codes)
    tests = tests if tests is not None else [()] * n
    setups = setups if setups is not None else [""] * n
    if len(tests) != n or len(setups) != n:
        raise ValueError(f"run_programs: {n} codes but {len(tests)} test lists and {len(setups)} setups")
    for i, program_tests in enumerate(tests):
        for j, test in enumerate(program_tests):
            try:
                plan_test(test)
            except ValueError as exc:
                raise ValueError(f"run_programs: program {i}, test {j}: {exc}") from exc
    isolation_backend(allow_unsandboxed)  # refuse (or warn) once, before the threads start
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda i: run_program(codes[i], limits, tests=tests[i], setup=setups[i],
                                                   allow_unsandboxed=allow_unsandboxed), range(n)))
