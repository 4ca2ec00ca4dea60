"""An exclusive inter-process lock on a file (``fcntl.flock``) that records who holds it.

Own code rather than the ``filelock`` package: its lock file is opened with O_TRUNC by every waiter, which would
erase the holder's record, and a waiter that times out must be able to say which process is in the way.
The kernel drops a flock when its holder dies (also on ``kill -9``), so a crashed holder never blocks anyone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from baseweight_assets.storage.liveness import process_token


class LockTimeout(TimeoutError):
    """The lock stayed held by another process for the whole wait; the message names the lock and its holder."""


class ExclusiveFileLock:
    """``acquire(timeout_s)`` / ``release()`` (or ``with``) on ``path``; reentrant use in one object is a no-op.

    Two objects on the same path exclude each other even inside one process (flock locks belong to an open file).
    The lock file is never deleted: unlinking a lock file lets a waiter lock an orphaned inode.
    """

    def __init__(self, path: Path, *, what: str = "") -> None:
        self.path = Path(path)
        self.what = what or str(self.path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> dict | None:
        """What the current (or last) holder wrote into the lock file, or None if it is empty/unreadable."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None

    def acquire(self, timeout_s: float = 0.0, poll_s: float = 0.05) -> None:
        """Take the lock, waiting at most ``timeout_s`` seconds; raise LockTimeout naming the holder."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(0.0, timeout_s)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(f"{self.what} is in use by another process ({_describe(self.holder())}); "
                                          f"waited {timeout_s:g}s for its lock {self.path}") from None
                    time.sleep(poll_s)
            record = {"pid": os.getpid(), "process": process_token(), "host": socket.gethostname(),
                      "since": datetime.now(UTC).isoformat(timespec="seconds"), "argv": sys.argv[:6]}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> ExclusiveFileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _describe(holder: dict | None) -> str:
    if not holder:
        return "holder unknown"
    argv = " ".join(str(a) for a in holder.get("argv") or [])
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}: {argv[:200]}"
