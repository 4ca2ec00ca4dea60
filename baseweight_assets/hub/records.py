"""Sync records: which materialization an artifact is, recorded on the Hub beside it and on this disk beside it.

A ``SyncStamp`` is made when a partition is materialized and travels with every push (``baseweight-sync/<path>``
in the dataset repo, ``baseweight/<condition>/sync.json`` in an adapter repo; for an adapter cell it names every
training seed's folder with its sha256). The local copy lives under the IO manager's base
folder at ``.hub/<asset>/<task>[/<variant>].json`` together with what became of the last push, so a run summary can
list the pushes that failed. Comparing the two stamps decides which side is newer: a pull never replaces a local
materialization that is newer than (or the same as) the Hub's, and a push never replaces a newer one on the Hub.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import ADAPTERS_DIR, ArtifactKey, adapter_address_ok
from baseweight_assets.storage.atomic import write_json
from baseweight_assets.storage.hashing import sha256_file

RECORD_DIR = ".hub"
FAILED = "failed"


@dataclass(frozen=True)
class AdapterStamp:
    """One training seed's adapter folder as pushed: ``adapter_key`` is its content address (its folder name under
    ``adapters/`` on the Hub and on every machine), ``adapter_sha256`` is ``training.metadata.adapter_sha256`` of
    the folder, ``files`` the folder's files that are pushed (the payload plus the training metadata)."""

    adapter_key: str
    adapter_sha256: str
    files: tuple[str, ...]
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "files": list(self.files)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> AdapterStamp:
        if not isinstance(data, dict) or not isinstance(data.get("adapter_sha256"), str):
            raise HubSyncError(f"{where}: an adapter entry needs adapter_key, adapter_sha256 and files, got {data!r}")
        if not adapter_address_ok(data.get("adapter_key")):
            raise HubSyncError(f"{where}: adapter_key {data.get('adapter_key')!r} is not a plain folder name; "
                               "refusing to write outside the adapters folder")
        files = data.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) and _plain_name(f) for f in files):
            raise HubSyncError(f"{where}: adapter files must be plain file names, got {files!r}")
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise HubSyncError(f"{where}: seed must be an integer or null, got {seed!r}")
        return cls(adapter_key=data["adapter_key"], adapter_sha256=data["adapter_sha256"], files=tuple(files),
                   seed=seed)

    def dir_under(self, base: Path) -> Path:
        """This adapter's folder under the results folder ``base``: ``<base>/adapters/<adapter_key>``."""
        return Path(base) / ADAPTERS_DIR / self.adapter_key


@dataclass(frozen=True)
class SyncStamp:
    """One materialization of one partition. ``sha256`` is the JSON file's as pushed; for a trained adapter cell,
    ``adapters`` holds one ``AdapterStamp`` per training seed, in the value's order."""

    asset: str
    partition: str | None
    profile: str
    materialization_id: str
    materialized_at: str  # ISO 8601, UTC, microseconds
    sha256: str
    adapters: tuple[AdapterStamp, ...] = ()

    @classmethod
    def new(cls, key: ArtifactKey, json_file: Path, *, now: datetime | None = None,
            adapters: tuple[AdapterStamp, ...] = ()) -> SyncStamp:
        at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return cls(asset=key.asset, partition=key.partition, profile=key.profile,
                   materialization_id=uuid.uuid4().hex, materialized_at=at.isoformat(timespec="microseconds"),
                   sha256=sha256_file(json_file), adapters=tuple(adapters))

    @property
    def at(self) -> datetime:
        return parse_time(self.materialized_at, self.asset)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "adapters": [a.to_dict() for a in self.adapters]}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> SyncStamp:
        """Parse a stamp; anything missing or malformed raises HubSyncError naming ``where``."""
        required = ("asset", "profile", "materialization_id", "materialized_at", "sha256")
        if not isinstance(data, dict) or any(not isinstance(data.get(k), str) for k in required):
            raise HubSyncError(f"{where}: not a sync record (needs string fields {', '.join(required)})")
        entries = data.get("adapters") or []
        if not isinstance(entries, list):
            raise HubSyncError(f"{where}: adapters must be a list, got {type(entries).__name__}")
        adapters = tuple(AdapterStamp.from_dict(entry, where) for entry in entries)
        keys = [a.adapter_key for a in adapters]
        if len(set(keys)) != len(keys):
            raise HubSyncError(f"{where}: lists an adapter_key twice ({keys}); refusing it")
        stamp = cls(asset=data["asset"], partition=data.get("partition"), profile=data["profile"],
                    materialization_id=data["materialization_id"], materialized_at=data["materialized_at"],
                    sha256=data["sha256"], adapters=adapters)
        parse_time(stamp.materialized_at, where)
        return stamp

    def check_identity(self, key: ArtifactKey, where: str) -> None:
        """Refuse a record of another artifact or another profile (smoke and full never merge)."""
        if self.profile != key.profile:
            raise HubSyncError(f"{where}: recorded profile {self.profile!r} differs from this run's {key.profile!r}; "
                               "refusing it (smoke and full artifacts never mix)")
        if (self.asset, self.partition) != (key.asset, key.partition):
            raise HubSyncError(f"{where}: records {self.asset}[{self.partition}], not {key.label}; refusing it")


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


def local_version(key: ArtifactKey, json_file: Path) -> datetime | None:
    """When the local copy was materialized: its trusted stamp, else the JSON file's mtime (a local materialization
    without a record, e.g. written while sync was off); None when there is no local JSON. An adapter folder alone
    is no local materialization of a cell: folders are content-addressed and shared between cells."""
    stamp = local_stamp(key, json_file)
    if stamp is not None:
        return stamp.at
    json_file = Path(json_file)
    return datetime.fromtimestamp(json_file.stat().st_mtime, timezone.utc) if json_file.is_file() else None


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
