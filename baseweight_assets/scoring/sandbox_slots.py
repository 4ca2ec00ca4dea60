"""Host-wide sandbox slots: a small integer no other running sandbox on this machine holds.

A slot names the uid a sandboxed program runs as when the host is root (``SLOT_BASE_UID + slot``) and its cgroup
leaf, so two programs never share a process count, a memory bound or a uid -- whether they run in one worker
process or in many (several Dagster steps, several scorers). Slot ``n`` is held by an exclusive ``flock`` on
``<dir>/slot-<n>.lock``: the kernel drops the lock when the holder closes it or dies, so a crashed worker never
leaks a slot. The directory is per effective uid and must belong to it (no other user can pre-create it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

N_SLOTS = 256
SLOT_BASE_UID = 61000  # uids 61000..61255: unprivileged, outside the usual ranges of system and login users


def slots_dir() -> Path:
    """``/run/lock/baseweight-sandbox-<euid>`` where ``/run/lock`` exists, else the same name in the temp dir."""
    parent = Path("/run/lock") if os.path.isdir("/run/lock") and os.access("/run/lock", os.W_OK) else (
        Path(tempfile.gettempdir()))
    return parent / f"baseweight-sandbox-{os.geteuid()}"


def _own_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PermissionError(f"{path}: sandbox slot directory must be a directory owned by uid {os.geteuid()} "
                              f"and not writable by others")
    return path


@contextlib.contextmanager
def hold_slot(directory: Path | None = None, n_slots: int = N_SLOTS, wait_s: float = 600.0) -> Iterator[int]:
    """Hold a free slot in ``[0, n_slots)`` for the ``with`` block; waits up to ``wait_s`` when all are busy."""
    root = _own_dir(directory or slots_dir())
    deadline = time.monotonic() + wait_s
    while True:
        start = random.randrange(n_slots)  # spread concurrent callers over the slots
        for i in range(n_slots):
            slot = (start + i) % n_slots
            fd = os.open(root / f"slot-{slot:03d}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            try:
                yield slot
            finally:
                os.close(fd)
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"all {n_slots} sandbox slots in {root} stayed busy for {wait_s:.0f}s")
        time.sleep(0.05)
