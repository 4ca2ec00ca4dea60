"""File helpers shared by the offline loaders: open plain or gzip files, read CSV/JSONL with
errors that name the file, the 1-based row and the field."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from baseweight_assets.data.errors import DataError, where
from baseweight_assets.storage.hashing import sha256_file


def require(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return path


def read_text(path: Path, encoding: str = "utf-8") -> str:
    require(path)
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:  # truncated gzip raises EOFError
        raise DataError(f"{path}: cannot read ({exc}); the file may be truncated") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{where(path, line)}: not valid {encoding} ({exc.reason})") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(1-based line, object) for each non-empty line."""
    for n, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where(path, n)}: not valid JSON ({exc.msg}); the file may be truncated") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where(path, n)}: expected a JSON object, got {type(obj).__name__}")
        yield n, obj


def read_csv(path: Path, required: list[str]) -> list[tuple[int, dict]]:
    """(1-based line of the record's start, row) for each record; checks the header has ``required``."""
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{where(path, 1, missing[0])}: missing column (header has {header})")
    rows = []
    try:
        line = reader.line_num + 1
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise DataError(f"{where(path, line)}: expected {len(header)} columns, got a different number")
            rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{where(path, reader.line_num)}: malformed CSV ({exc}); the file may be truncated") from None
    return rows


def field(path: Path, line: int, row: dict, name: str, kind: type | tuple = str) -> object:
    if name not in row:
        raise DataError(f"{where(path, line, name)}: missing")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise DataError(f"{where(path, line, name)}: expected {kind}, got {value!r:.80}")
    return value


def non_empty(path: Path, line: int, row: dict, name: str) -> str:
    value = field(path, line, row, name)
    if not value.strip():
        raise DataError(f"{where(path, line, name)}: empty")
    return value


def fingerprints(paths: dict[str, Path]) -> dict[str, str]:
    return {name: sha256_file(p) for name, p in sorted(paths.items())}
