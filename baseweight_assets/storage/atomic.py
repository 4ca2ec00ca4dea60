"""Write-then-rename, so a killed process never leaves a half-written file that looks complete.

Every module that persists something (IO managers, the prediction store, the trainer, the Hub sync,
the report tables) goes through these few functions. A published file is fsync'd, renamed into place, and
the rename itself is made durable by fsyncing the directory; it is readable by others (0644). A writer's
temporary siblings carry its ``liveness.process_token``, so the next writer of the same target removes those
left by a dead writer (``kill -9``) and never those of a writer still running.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from baseweight_assets.storage.liveness import process_token, token_is_running

PUBLISHED_MODE = 0o644
# Temporaries from another machine (shared volume) or from before a reboot cannot be judged by pid; one whose
# mtime is older than this is treated as abandoned (a live writer touches its file as it writes).
FOREIGN_TMP_STALE_S = 24 * 3600.0
_TOKEN = r"(?P<token>\d+-\d+-[0-9a-f]{8})"
_TEMPORARY = [re.compile(rf"^{_TOKEN}\.[A-Za-z0-9_]+\.tmp$"),  # atomic_path's file
              re.compile(rf"^tmp-{_TOKEN}$"),                  # staging_dir's folder
              re.compile(rf"^old-{_TOKEN}$")]                  # replace_dir's previous version
_LEGACY = re.compile(r"^(?:[a-z0-9_]{8}\.tmp|tmp-\d+|old-\d+)$")  # names written before tokens existed


def fsync_dir(path: Path) -> None:
    """fsync a directory, so an entry created or renamed in it survives a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(target: Path, *, now: float | None = None) -> list[Path]:
    """Delete the temporary siblings of ``target`` whose writer is gone; return what was removed.

    A temporary names its writer (pid, start time, machine). It is stale when that writer, on this machine and
    boot, no longer runs (a reused pid does not count as alive). One written elsewhere, or with a name from before
    tokens existed, is stale only once its mtime is ``FOREIGN_TMP_STALE_S`` old. Anything else is left alone.
    """
    target = Path(target)
    prefix = f".{target.name}."
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        rest = entry.name[len(prefix):]
        match = next((m for p in _TEMPORARY if (m := p.match(rest))), None)
        if match is not None:
            running = token_is_running(match.group("token"))
        elif _LEGACY.match(rest):
            running = None
        else:
            continue  # not one of ours (e.g. the temporary of a sibling target whose name extends this one)
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if running is True or (running is None and age < FOREIGN_TMP_STALE_S):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; it replaces ``target`` (mode 0644, directory fsync'd) only if the
    block succeeds. Temporaries that dead writers left next to ``target`` are removed first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{process_token()}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, PUBLISHED_MODE)  # mkstemp creates 0600; a published artifact is read by other users/pods
    finally:
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: Path, text: str, *, newline: str | None = None) -> None:
    """Atomically replace ``target`` with ``text``, fsync'd before the rename."""
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def write_json(target: Path, obj: Any, *, indent: int | None = None, sort_keys: bool = False,
               allow_nan: bool = False) -> None:
    """Stream ``obj`` as JSON into a temporary sibling (no second copy in memory), then rename it into place."""
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, ensure_ascii=False, indent=indent, sort_keys=sort_keys, allow_nan=allow_nan,
                      default=_json_default)
            fh.flush()
            os.fsync(fh.fileno())


def read_json(path: Path) -> Any:
    """Parse a JSON file; a corrupt one raises ValueError naming the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def replace_dir(staging: Path, target: Path) -> None:
    """Publish a fully written directory: the old one (if any) is removed only after staging is complete; both
    renames are made durable by fsyncing the parent."""
    staging, target = Path(staging), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(f".{target.name}.old-{process_token()}")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def staging_dir(target: Path) -> Path:
    """An empty sibling folder to build ``target`` in before ``replace_dir`` (dead writers' leftovers removed)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = target.parent / f".{target.name}.tmp-{process_token()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
