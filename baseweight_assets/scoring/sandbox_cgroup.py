"""Whole-program memory and task bounds with a cgroup, where this host lets us create one.

A sandboxed program may fork: per-process rlimits then bound its tree only by their product
(``RLIMIT_NPROC x RLIMIT_AS``). A cgroup bounds the whole tree at once: ``memory`` (every process's resident
memory plus what it writes to its tmpfs) and ``pids`` (processes and threads). Each program gets a fresh leaf
``<parent>/slot-<n>`` (``sandbox_slots``), so its peak and OOM counters are its own.

Where a parent is found (``find_cgroup_parent``), decided here once:
- cgroup v2 (``/sys/fs/cgroup/cgroup.controllers`` exists): ``/sys/fs/cgroup/baseweight-sandbox`` with
  ``+memory +pids`` in its ``subtree_control``; needs root (or a writable cgroupfs) and a root cgroup that
  offers both controllers.
- cgroup v1 (the project VM: separate ``memory`` and ``pids`` hierarchies): ``baseweight-sandbox`` under this
  process's own cgroup in each hierarchy, so the host's own limits still apply above it.
Otherwise (non-root, a read-only cgroupfs as in an unprivileged Kubernetes pod) there is none, and the sandbox
states the rlimit product as its bound instead.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT_NAME = "baseweight-sandbox"


@dataclass(frozen=True)
class CgroupUsage:
    peak_bytes: int | None  # highest memory charge of the leaf (None where the kernel does not report it)
    oom_kills: int  # processes the kernel killed for the leaf's memory limit


@dataclass(frozen=True)
class CgroupParent:
    version: str  # "v1" | "v2"
    memory_dir: Path
    pids_dir: Path  # the same directory as memory_dir under v2

    def leaf(self, name: str) -> CgroupLeaf:
        return CgroupLeaf(self, name)


class CgroupLeaf:
    """One program's cgroup: created fresh (a stale one of the same name is emptied and removed first)."""

    def __init__(self, parent: CgroupParent, name: str):
        self.parent = parent
        self.dirs = tuple(dict.fromkeys((parent.memory_dir / name, parent.pids_dir / name)))
        self.remove()
        for d in self.dirs:
            d.mkdir()

    @property
    def memory(self) -> Path:
        return self.dirs[0]

    @property
    def pids(self) -> Path:
        return self.dirs[-1]

    @property
    def procs_files(self) -> list[str]:
        """The files a process writes its pid to, to join this leaf (one per hierarchy)."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def limit(self, memory_bytes: int, tasks: int) -> None:
        if self.parent.version == "v2":
            (self.memory / "memory.max").write_text(str(memory_bytes))
            if (self.memory / "memory.swap.max").exists():
                (self.memory / "memory.swap.max").write_text("0")
        else:
            (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            memsw = self.memory / "memory.memsw.limit_in_bytes"
            if memsw.exists():  # no swap either: memory+swap gets the same bound
                memsw.write_text(str(memory_bytes))
        (self.pids / "pids.max").write_text(str(tasks))

    def usage(self) -> CgroupUsage:
        if self.parent.version == "v2":
            peak_file, events_file = self.memory / "memory.peak", self.memory / "memory.events"
        else:
            peak_file, events_file = self.memory / "memory.max_usage_in_bytes", self.memory / "memory.oom_control"
        peak = int(peak_file.read_text()) if peak_file.exists() else None
        kills = 0
        for line in events_file.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                kills = int(value)
        return CgroupUsage(peak, kills)

    def _pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except FileNotFoundError:
                pass
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process still in the leaf (stray children that left the sandbox's process group)."""
        kill_file = self.memory / "cgroup.kill"
        if self.parent.version == "v2" and kill_file.exists():
            kill_file.write_text("1")
        for _ in range(200):
            pids = self._pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        log.warning("cgroup %s: processes %s survived SIGKILL for 2 s", self.memory, self._pids())

    def remove(self) -> None:
        if not any(d.exists() for d in self.dirs):
            return
        self.kill()
        for d in self.dirs:
            for _ in range(100):  # rmdir fails (EBUSY) until the last killed task has left the cgroup
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def _own_v1_dirs() -> dict[str, Path]:
    """``{controller: this process's cgroup directory}`` for the v1 ``memory`` and ``pids`` hierarchies."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = right.split()
        if len(fields) >= 3 and fields[0] == "cgroup":
            for option in fields[2].split(","):
                if option in ("memory", "pids"):
                    mounts[option] = Path(left.split()[4])
    own: dict[str, Path] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            if c in mounts:
                own[c] = mounts[c] / path.lstrip("/")
    return own


def _candidate() -> CgroupParent:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        parent = CGROUP_ROOT / PARENT_NAME
        parent.mkdir(exist_ok=True)
        (parent / "cgroup.subtree_control").write_text("+memory +pids")
        return CgroupParent("v2", parent, parent)
    own = _own_v1_dirs()
    if "memory" not in own or "pids" not in own:
        raise OSError("no cgroup v2 and no cgroup v1 memory and pids hierarchies")
    for d in own.values():
        (d / PARENT_NAME).mkdir(exist_ok=True)
    return CgroupParent("v1", own["memory"] / PARENT_NAME, own["pids"] / PARENT_NAME)


@functools.lru_cache(maxsize=1)
def find_cgroup_parent() -> CgroupParent | None:
    """The parent cgroup sandboxes get leaves under, or None (with the reason logged) where there is none."""
    try:
        parent = _candidate()
        probe = parent.leaf(f"probe-{os.getpid()}")
        try:
            probe.limit(64 << 20, 8)
            probe.usage()
        finally:
            probe.remove()
        return parent
    except (OSError, ValueError) as exc:
        log.info("code sandbox: no usable cgroup (%s); memory and processes are bounded by rlimits", exc)
        return None
