"""Append-only JSONL of prediction rows keyed by request hash: fsync per row, resume after ``kill -9``.

One writer at a time: writing (or ``lock()``) takes an exclusive lock on the sibling ``<store>.lock``, held until
``close()``; a second run of the same partition waits up to ``lock_timeout_s`` for it, then fails with a message
naming the store and the holder. Reading (``load``, ``covers``) never writes, so it is safe while another process
appends. A line that does not parse is reported (``file:line``) and skipped, so its request is asked again; the
bytes are kept in ``<store>.corrupt`` when the file is compacted. The last line, if a kill cut it mid-write, is
ignored by readers and cut off by the next writer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from baseweight_assets.storage.atomic import fsync_dir, write_text
from baseweight_assets.storage.locks import ExclusiveFileLock, LockTimeout

DEFAULT_LOCK_TIMEOUT_S = 600.0


def answered(stored: dict[str, dict], hashes: list[str], retry_errors: bool = True) -> dict[str, dict]:
    """The stored rows of ``hashes`` a run does not call again: those without an error (any, unless retry_errors)."""
    return {h: stored[h] for h in hashes if h in stored and (stored[h].get("error") is None or not retry_errors)}


def _parse_row(raw: bytes) -> dict:
    row = json.loads(raw)
    if not isinstance(row, dict) or "request_hash" not in row:
        raise ValueError("not a prediction row (no request_hash)")
    return row


class PredictionStore:
    def __init__(self, path: Path, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
                 log: Callable[[str], None] = print) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.log = log
        self.corrupt: list[tuple[int, bytes]] = []  # (line number, bytes) found by the last load()
        self._lock = ExclusiveFileLock(self.path.with_name(self.path.name + ".lock"),
                                       what=f"prediction store {self.path}")
        self._fh = None

    def covers(self, hashes: list[str]) -> bool:
        """Whether every request is already answered without error (a rerun would make no calls)."""
        return len(answered(self.load(), hashes)) == len(set(hashes))

    def load(self) -> dict[str, dict]:
        """request_hash -> latest row. Read-only: a torn last line is ignored, a corrupt one elsewhere is logged
        with its file:line and skipped (recorded in ``self.corrupt``)."""
        self.corrupt = []
        if not self.path.exists():
            return {}
        lines = self.path.read_bytes().split(b"\n")
        rows: dict[str, dict] = {}
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                row = _parse_row(raw)
            except ValueError as exc:
                if number == len(lines):  # no newline after it: a write cut by a kill, redone by this run
                    break
                self.corrupt.append((number, raw))
                self.log(f"{self.path}:{number}: corrupt prediction row skipped ({exc}); "
                         f"its request will be asked again")
                continue
            rows[row["request_hash"]] = row
        return rows

    def lock(self) -> None:
        """Become the only writer (wait up to ``lock_timeout_s``), then finish or cut off a torn last line."""
        if self._lock.held:
            return
        try:
            self._lock.acquire(0.0)
        except LockTimeout as busy:
            self.log(f"{busy}; waiting up to {self.lock_timeout_s:g}s for it")
            self._lock.acquire(self.lock_timeout_s)
        try:
            self._repair_tail()
        except BaseException:
            self._lock.release()
            raise

    def _repair_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        with open(self.path, "r+b") as fh:
            try:
                _parse_row(data[cut:])
                fh.seek(0, os.SEEK_END)
                fh.write(b"\n")  # complete row, only its newline is missing: keep it
            except ValueError:
                fh.truncate(cut)  # cut mid-write by a kill: drop it, its request is redone
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, row: dict) -> None:
        """Append one row and fsync it (taking the writer lock first if this store does not hold it yet)."""
        if self._fh is None:
            self.lock()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            self._fh = open(self.path, "a", encoding="utf-8")
            if created:
                fsync_dir(self.path.parent)  # the new file's directory entry must survive a crash too
        self._fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def rewrite(self, rows: list[dict]) -> None:
        """Replace the file with exactly ``rows`` (drops superseded error rows), atomically; lines the last
        ``load()`` found corrupt are appended to ``<store>.corrupt`` first, so nothing is silently lost."""
        self.lock()
        self._close_file()
        if self.corrupt:
            with open(self.path.with_name(self.path.name + ".corrupt"), "ab") as fh:
                fh.write(b"".join(raw + b"\n" for _, raw in self.corrupt))
                fh.flush()
                os.fsync(fh.fileno())
            self.corrupt = []
        write_text(self.path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def close(self) -> None:
        """Close the file and release the writer lock."""
        self._close_file()
        self._lock.release()

    def __enter__(self) -> PredictionStore:
        self.lock()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
