"""Append-only JSONL of prediction rows keyed by request hash: fsync per row, resume after ``kill -9``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from baseweight_assets.storage.atomic import write_text


class StoreCorruptError(ValueError):
    """A line other than a torn last line does not parse; the message names the file and line."""


def answered(stored: dict[str, dict], hashes: list[str], retry_errors: bool = True) -> dict[str, dict]:
    """The stored rows of ``hashes`` a run does not call again: those without an error (any, unless retry_errors)."""
    return {h: stored[h] for h in hashes if h in stored and (stored[h].get("error") is None or not retry_errors)}


class PredictionStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh = None

    def covers(self, hashes: list[str]) -> bool:
        """Whether every request is already answered without error (a rerun would make no calls)."""
        return len(answered(self.load(), hashes)) == len(set(hashes))

    def load(self) -> dict[str, dict]:
        """request_hash -> latest row. A torn final line (killed mid-write) is cut off, anything else raises."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        rows: dict[str, dict] = {}
        good_end = 0
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, start=1):
            is_last = number == len(lines)
            if not raw.strip():
                good_end += len(raw) + (0 if is_last else 1)
                continue
            try:
                row = json.loads(raw)
                if not isinstance(row, dict) or "request_hash" not in row:
                    raise ValueError("not a prediction row (no request_hash)")
            except ValueError as exc:
                if is_last:  # no trailing newline: the write was interrupted; drop it, it will be redone
                    break
                raise StoreCorruptError(f"{self.path}: line {number}: {exc}") from None
            if is_last:  # parsed but lacks its newline: keep it and finish the line
                with open(self.path, "ab") as fh:
                    fh.write(b"\n")
                good_end = len(data) + 1
            else:
                good_end += len(raw) + 1
            rows[row["request_hash"]] = row
        if good_end < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
        return rows

    def append(self, row: dict) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def rewrite(self, rows: list[dict]) -> None:
        """Replace the file with exactly ``rows`` (drops superseded error rows), atomically."""
        self.close()
        write_text(self.path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
