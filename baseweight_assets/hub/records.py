"""Sync records: which materialization an artifact is, recorded on the Hub beside it and on this disk beside it.

A ``SyncStamp`` is made when a partition is materialized and travels with every push (``baseweight-sync/<path>``
in the dataset repo, ``baseweight/sync.json`` in an adapter repo). The local copy lives under the IO manager's base
folder at ``.hub/<asset>/<task>[/<variant>].json`` together with what became of the last push, so a run summary can
list the pushes that failed. Comparing the two stamps decides which side is newer: a pull never replaces a local
materialization that is newer than (or the same as) the Hub's, and a push never replaces a newer one on the Hub.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import ArtifactKey
from baseweight_assets.storage.atomic import write_json
from baseweight_assets.storage.hashing import sha256_file
from baseweight_assets.training.metadata import METADATA_FILE

RECORD_DIR = ".hub"
FAILED = "failed"


@dataclass(frozen=True)
class SyncStamp:
    """One materialization of one partition. ``sha256`` is the JSON file's as pushed; for an adapter,
    ``adapter_sha256`` is ``training.metadata.adapter_sha256`` of its folder, ``adapter_files`` the folder's
    files that are pushed, and ``adapter_relpath`` the folder relative to the IO manager's base (None when the
    folder lived elsewhere: it is then pulled to ``adapters/<adapter_sha256>``)."""

    asset: str
    partition: str | None
    profile: str
    materialization_id: str
    materialized_at: str  # ISO 8601, UTC, microseconds
    sha256: str
    adapter_sha256: str | None = None
    adapter_relpath: str | None = None
    adapter_files: tuple[str, ...] = ()

    @classmethod
    def new(cls, key: ArtifactKey, json_file: Path, *, now: datetime | None = None, **adapter: Any) -> SyncStamp:
        at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return cls(asset=key.asset, partition=key.partition, profile=key.profile,
                   materialization_id=uuid.uuid4().hex, materialized_at=at.isoformat(timespec="microseconds"),
                   sha256=sha256_file(json_file), **adapter)

    @property
    def at(self) -> datetime:
        return parse_time(self.materialized_at, self.asset)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "adapter_files": list(self.adapter_files)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> SyncStamp:
        """Parse a stamp; anything missing or malformed raises HubSyncError naming ``where``."""
        required = ("asset", "profile", "materialization_id", "materialized_at", "sha256")
        if not isinstance(data, dict) or any(not isinstance(data.get(k), str) for k in required):
            raise HubSyncError(f"{where}: not a sync record (needs string fields {', '.join(required)})")
        files = data.get("adapter_files") or []
        if not isinstance(files, list) or not all(isinstance(f, str) and _plain_name(f) for f in files):
            raise HubSyncError(f"{where}: adapter_files must be plain file names, got {files!r}")
        stamp = cls(asset=data["asset"], partition=data.get("partition"), profile=data["profile"],
                    materialization_id=data["materialization_id"], materialized_at=data["materialized_at"],
                    sha256=data["sha256"], adapter_sha256=data.get("adapter_sha256"),
                    adapter_relpath=data.get("adapter_relpath"), adapter_files=tuple(files))
        parse_time(stamp.materialized_at, where)
        return stamp

    def check_identity(self, key: ArtifactKey, where: str) -> None:
        """Refuse a record of another artifact or another profile (smoke and full never merge)."""
        if self.profile != key.profile:
            raise HubSyncError(f"{where}: recorded profile {self.profile!r} differs from this run's {key.profile!r}; "
                               "refusing it (smoke and full artifacts never mix)")
        if (self.asset, self.partition) != (key.asset, key.partition):
            raise HubSyncError(f"{where}: records {self.asset}[{self.partition}], not {key.label}; refusing it")

    def adapter_dir_under(self, base: Path) -> Path:
        """Where this adapter's folder goes under ``base``; a recorded path that would leave ``base`` is refused."""
        rel = self.adapter_relpath or f"adapters/{self.adapter_sha256}"
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
            raise HubSyncError(f"{self.asset}[{self.partition}]: adapter path {rel!r} is not a plain relative "
                               "path; refusing to write outside the results folder")
        return Path(base).joinpath(*parts)


def parse_time(text: str, where: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise HubSyncError(f"{where}: materialized_at {text!r} is not an ISO 8601 time") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def artifact_base(key: ArtifactKey, json_file: Path) -> Path:
    """The IO manager's base folder: ``json_file`` is ``<base>/<asset>/<task>[/<variant>].json``."""
    return Path(json_file).parents[len(key.parts)]


def record_path(key: ArtifactKey, json_file: Path) -> Path:
    base = artifact_base(key, json_file)
    return base / RECORD_DIR / Path(json_file).relative_to(base)


def read_record(key: ArtifactKey, json_file: Path) -> dict | None:
    """The local record, or None when absent or unreadable (then the file's own mtime stands in for it)."""
    try:
        data = json.loads(record_path(key, json_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_record(key: ArtifactKey, json_file: Path, stamp: SyncStamp | None, *, state: str, detail: str = "",
                 commit: str | None = None) -> None:
    """Record locally which materialization ``json_file`` is and what became of its last push or pull."""
    json_file = Path(json_file)
    write_json(record_path(key, json_file), {
        "label": key.label, "profile": key.profile,
        "stamp": stamp.to_dict() if stamp else None,
        "local_sha256": sha256_file(json_file) if json_file.is_file() else None,
        "sync": {"state": state, "detail": detail, "commit": commit,
                 "at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    }, indent=1)


def local_stamp(key: ArtifactKey, json_file: Path) -> SyncStamp | None:
    """The local record's stamp, trusted only while ``json_file`` still has the bytes it was recorded for."""
    record = read_record(key, json_file)
    json_file = Path(json_file)
    if not record or not record.get("stamp") or not json_file.is_file():
        return None
    if record.get("local_sha256") != sha256_file(json_file):
        return None  # rewritten since (e.g. by an IO manager without sync): the record no longer describes it
    try:
        return SyncStamp.from_dict(record["stamp"], str(record_path(key, json_file)))
    except HubSyncError:
        return None


def local_version(key: ArtifactKey, json_file: Path, adapter_dir: Path | None = None) -> datetime | None:
    """When the local copy was materialized: its trusted stamp, else the newest mtime of the JSON file and an
    adapter folder's training metadata (evidence of a local materialization without a record); None if neither."""
    stamp = local_stamp(key, json_file)
    if stamp is not None:
        return stamp.at
    evidence = [Path(json_file)] + ([Path(adapter_dir) / METADATA_FILE] if adapter_dir else [])
    times = [p.stat().st_mtime for p in evidence if p.is_file()]
    return datetime.fromtimestamp(max(times), timezone.utc) if times else None


def failed_pushes(*bases: Path) -> list[str]:
    """One line per local artifact under ``bases`` whose last push failed (and has not succeeded since):
    ``hub sync failed: <asset>[<partition>] (<profile>): <reason>``, sorted."""
    lines = []
    for base in bases:
        for path in sorted((Path(base) / RECORD_DIR).rglob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            sync = (record.get("sync") or {}) if isinstance(record, dict) else {}
            if sync.get("state") == FAILED:
                lines.append(f"hub sync failed: {record.get('label')} ({record.get('profile')}): {sync.get('detail')}")
    return sorted(lines)
