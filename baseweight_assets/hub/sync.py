"""Push one materialized partition per commit; pull one that is missing locally; never lose or corrupt either side.

- A push is planned against a head commit (the one last seen, else read now) and committed with
  ``parent_commit=head``: if another writer moved the branch, the commit fails with HubConflictError, the head is
  re-read and the push re-planned, so nothing is overwritten blindly.
- A push never replaces a newer materialization of the same partition on the Hub, and a pull never replaces a
  local one that is newer or the same (``records.SyncStamp``: materialization id and time on both sides).
- Rate limits, 5xx, timeouts and conflicts are retried with jittered exponential backoff, a bounded number of
  times; then HubSyncError, which the IO manager turns into visible metadata, a failing check and a summary line.
- A pull is verified before anything local changes: the record's asset, partition and profile, the JSON's sha256,
  and an adapter's ``adapter_sha256`` over exactly the files that were pushed (``training.metadata.adapter_payload``).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub import cards, records
from baseweight_assets.hub.errors import HubConflictError, HubSyncError, HubTransientError
from baseweight_assets.hub.layout import (
    ADAPTER_ASSET, ADAPTER_STAMP_PATH, ADAPTER_VALUE_PATH, SYNCED_ASSETS, ArtifactKey, RepoRef, adapter_repo,
    dataset_repo,
)
from baseweight_assets.hub.records import SyncStamp
from baseweight_assets.hub.targets import SyncTarget
from baseweight_assets.inference.retry import RetryPolicy
from baseweight_assets.storage.atomic import replace_dir, staging_dir, write_json, write_text
from baseweight_assets.storage.hashing import sha256_file
from baseweight_assets.training.metadata import METADATA_FILE, adapter_payload, adapter_sha256

T = TypeVar("T")
FAILED_PREFIX = "failed: "
# Hub pushes run inside a step: at most ~2+4+8+16 s of backoff (or a Retry-After up to 2 min) before giving up.
DEFAULT_RETRY = RetryPolicy(base_delay_s=2.0, max_delay_s=30.0, max_retry_after_s=120.0)


@dataclass(frozen=True)
class PushResult:
    """``pushed``: committed as ``commit``. ``up_to_date``: the Hub already holds this materialization.
    ``superseded``: the Hub holds a newer one of the same partition, left in place (``commit`` is None)."""

    state: Literal["pushed", "up_to_date", "superseded"]
    repo: RepoRef
    commit: str | None
    detail: str
    attempts: int

    @property
    def summary(self) -> str:
        """The ``hub_sync`` metadata text: ``pushed <repo>@<commit>``, ``up to date ...``, ``superseded: ...``."""
        if self.state == "superseded":
            return f"superseded: {self.detail}"
        return f"{self.state.replace('_', ' ')} {self.repo}@{(self.commit or '')[:12]}"


def sync_failure(metadata: Mapping[str, Any] | None) -> str | None:
    """The reason a materialization's Hub sync failed, read from its metadata (``hub_sync: "failed: <reason>"``,
    a plain string or a Dagster text metadata value); None when it did not fail or sync was off."""
    raw = (metadata or {}).get("hub_sync")
    text = getattr(raw, "value", raw)
    if isinstance(text, str) and text.startswith(FAILED_PREFIX):
        return text[len(FAILED_PREFIX):] or "unknown reason"
    return None


class HubSync:
    """``push`` after a partition is written locally; ``pull`` before recomputing one that is missing.

    ``synced``: the assets that sync (the stage registry's choice; raw data stays local by default).
    ``attempts``/``retry``/``sleep``/``rng``: the bounded, jittered retry of transient errors and conflicts.
    """

    def __init__(self, target: SyncTarget, hub: HubConfig, *, base_models: dict[str, str] | None = None,
                 log: Callable[[str], None] = lambda _m: None, synced: Iterable[str] = SYNCED_ASSETS,
                 attempts: int = 5, retry: RetryPolicy = DEFAULT_RETRY, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.target = target
        self.hub = hub
        self.base_models = base_models or {}  # model id -> Hub id, for adapter cards
        self.log = log
        self.synced = frozenset(synced)
        self.attempts = attempts
        self.retry = retry
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._ready: set[RepoRef] = set()
        self._heads: dict[RepoRef, str] = {}  # the head last seen (pulled from or pushed to) per repo

    def syncs(self, asset: str) -> bool:
        return asset in self.synced

    # --- plumbing -------------------------------------------------------------------------------------------

    def _ensure(self, repo: RepoRef) -> None:
        if repo not in self._ready:
            self.target.ensure_repo(repo, private=self.hub.private)
            self._ready.add(repo)

    def _head(self, repo: RepoRef, *, fresh: bool = False) -> str | None:
        if fresh or repo not in self._heads:
            head = self.target.head(repo)
            if head is None:
                self._heads.pop(repo, None)
                return None
            self._heads[repo] = head
        return self._heads[repo]

    def _retrying(self, label: str, repo: RepoRef, attempt: Callable[[int], T]) -> T:
        """Run ``attempt(n)``; after a transient error or a conflict, forget the head, wait, try again."""
        last: HubSyncError | None = None
        for n in range(1, self.attempts + 1):
            try:
                return attempt(n)
            except HubConflictError as exc:
                last, wait = exc, self.retry.delay(n, None, self.rng)
            except HubTransientError as exc:
                last, wait = exc, self.retry.delay(n, exc.retry_after_s, self.rng)
            self._heads.pop(repo, None)
            if n < self.attempts:
                self.log(f"hub: {label}: {last} (attempt {n}/{self.attempts}); retrying in {wait:.1f}s")
                self.sleep(wait)
        kind = "conflicts with concurrent writers" if isinstance(last, HubConflictError) else "transient errors"
        raise HubSyncError(f"{label}: gave up after {self.attempts} attempts ({kind}); last: {last}")

    def _remote_stamp(self, repo: RepoRef, path: str, head: str | None, key: ArtifactKey, tmp: Path) -> SyncStamp | None:
        if head is None or not self.target.exists(repo, path, revision=head):
            return None
        got = self.target.download(repo, [path], tmp, revision=head) / path
        where = f"{repo}/{path}"
        stamp = SyncStamp.from_dict(_read_json(got, where), where)
        stamp.check_identity(key, where)
        return stamp

    # --- push -----------------------------------------------------------------------------------------------

    def push(self, key: ArtifactKey, json_file: Path, value: dict, *, fresh: bool = True) -> PushResult | None:
        """Commit the partition's JSON and its sync record (an adapter: its folder's payload, training metadata,
        card and value) in one commit; None for an asset that does not sync.

        ``fresh``: this is a new materialization (stamped now); False re-pushes the one the local record
        describes. Raises HubSyncError once retries are spent; the local record then says ``failed``.
        """
        if not self.syncs(key.asset):
            return None
        json_file = Path(json_file)
        stamp: SyncStamp | None = None
        try:
            with tempfile.TemporaryDirectory(prefix="bw-hub-") as tmp:
                stamp, adapter = self._stamp_for_push(key, json_file, value, fresh)
                repo = adapter_repo(self.hub, key) if adapter else dataset_repo(self.hub)
                files = self._files(key, json_file, value, stamp, adapter, Path(tmp))
                result = self._retrying(f"push {key.label} to {repo}", repo,
                                        lambda n: self._push_once(key, repo, files, stamp, Path(tmp), n))
        except HubSyncError as exc:
            records.write_record(key, json_file, stamp, state=records.FAILED, detail=str(exc))
            raise
        except (OSError, ValueError) as exc:  # local files unreadable, a corrupt adapter folder...
            error = HubSyncError(f"push {key.label}: {type(exc).__name__}: {exc}")
            records.write_record(key, json_file, stamp, state=records.FAILED, detail=str(error))
            raise error from None
        records.write_record(key, json_file, stamp, state=result.state, detail=result.detail, commit=result.commit)
        self.log(f"hub: {key.label}: {result.summary} ({result.detail})")
        return result

    def _stamp_for_push(self, key: ArtifactKey, json_file: Path, value: dict,
                        fresh: bool) -> tuple[SyncStamp, Path | None]:
        adapter_dir = _adapter_dir(key, value)
        if not fresh:
            stamp = records.local_stamp(key, json_file)
            if stamp is None:
                raise HubSyncError(f"push {key.label}: no trusted local sync record for {json_file} to re-push")
            if adapter_dir is not None and adapter_sha256(adapter_dir) != stamp.adapter_sha256:
                raise HubSyncError(f"{key.label}: {adapter_dir} no longer matches its sync record; not re-pushing it")
            return stamp, adapter_dir
        if adapter_dir is None:
            return SyncStamp.new(key, json_file), None
        if not adapter_dir.is_dir():
            raise HubSyncError(f"{key.label}: adapter_dir {adapter_dir} does not exist; nothing to push")
        digest = adapter_sha256(adapter_dir)
        if value.get("adapter_sha256") != digest:
            raise HubSyncError(f"{key.label}: {adapter_dir} hashes to {digest[:12]} but the value records "
                               f"{str(value.get('adapter_sha256'))[:12]}; refusing to push a folder that changed")
        base = records.artifact_base(key, json_file)
        try:
            relpath = adapter_dir.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            relpath = None  # outside the results folder: pulled to adapters/<adapter_sha256>
        names = [p.name for p in adapter_payload(adapter_dir)]
        if (adapter_dir / METADATA_FILE).is_file():
            names.append(METADATA_FILE)
        return SyncStamp.new(key, json_file, adapter_sha256=digest, adapter_relpath=relpath,
                             adapter_files=tuple(names)), adapter_dir

    def _files(self, key: ArtifactKey, json_file: Path, value: dict, stamp: SyncStamp, adapter_dir: Path | None,
               tmp: Path) -> dict[str, Path]:
        stamp_file = tmp / "sync.json"
        write_json(stamp_file, stamp.to_dict(), indent=1)
        if adapter_dir is None:
            return {key.json_path(): json_file, key.stamp_path(): stamp_file}
        repo = adapter_repo(self.hub, key)
        task, variant = key.parts
        model, _, condition = variant.partition("__")
        card = tmp / "README.md"
        card.write_text(cards.adapter_card(
            repo_id=repo.repo_id, base_model=self.base_models.get(model, model), task=task, condition=condition,
            profile=key.profile, metadata=value.get("metadata") or {}, adapter_sha256=stamp.adapter_sha256,
        ), encoding="utf-8")
        files = {name: adapter_dir / name for name in stamp.adapter_files}
        files.update({"README.md": card, ADAPTER_VALUE_PATH: json_file, ADAPTER_STAMP_PATH: stamp_file})
        return files

    def _push_once(self, key: ArtifactKey, repo: RepoRef, files: dict[str, Path], stamp: SyncStamp, tmp: Path,
                   attempt: int) -> PushResult:
        self._ensure(repo)
        head = self._head(repo)
        stamp_path = ADAPTER_STAMP_PATH if repo.repo_type == "model" else key.stamp_path()
        remote = self._remote_stamp(repo, stamp_path, head, key, tmp / f"remote-{attempt}")
        if remote is not None and remote.materialization_id == stamp.materialization_id:
            return PushResult("up_to_date", repo, head, "the Hub already holds this materialization", attempt)
        if remote is not None and remote.at > stamp.at:
            return PushResult("superseded", repo, None, f"{repo} holds a newer materialization "
                              f"({remote.materialized_at} > {stamp.materialized_at}); left in place", attempt)
        files = dict(files)
        if repo.repo_type == "dataset" and not self.target.exists(repo, "README.md", revision=head):
            card = tmp / "dataset-README.md"
            card.write_text(cards.artifacts_dataset_card(repo_id=repo.repo_id, profiles=["smoke", "full"],
                                                         assets=sorted(self.synced)), encoding="utf-8")
            files["README.md"] = card
        message = f"baseweight: {key.label} ({key.profile})"
        description = json.dumps({"asset": key.asset, "partition": key.partition, "profile": key.profile,
                                  "materialization_id": stamp.materialization_id,
                                  "materialized_at": stamp.materialized_at}, sort_keys=True)
        oid = self.target.commit(repo, files, message, description, parent_commit=head)
        self._heads[repo] = oid
        return PushResult("pushed", repo, oid, f"{len(files)} files on top of {str(head)[:12]}", attempt)

    # --- pull -----------------------------------------------------------------------------------------------

    def pull(self, key: ArtifactKey, json_file: Path) -> bool:
        """Fetch the partition into ``json_file`` (an adapter's folder to where its record says, under the same
        base); True if something was written. False when the Hub lacks it, or when the local copy is newer than
        the Hub's or the same materialization (it is kept). Raises HubSyncError, changing nothing locally, when
        the Hub's copy fails verification (other profile or partition, bad JSON, hash mismatch).

        The JSON lands last and atomically: a partially pulled adapter never looks materialized.
        """
        if not self.syncs(key.asset):
            return False
        json_file = Path(json_file)
        if key.asset == ADAPTER_ASSET and len(key.parts) == 2:
            repo = adapter_repo(self.hub, key)
            pulled = self._retrying(f"pull {key.label} from {repo}", repo,
                                    lambda n: self._pull_adapter_once(key, repo, json_file))
            if pulled is not None:  # None: no adapter repo; a skipped partition lives in the dataset repo
                return pulled
        repo = dataset_repo(self.hub)
        return self._retrying(f"pull {key.label} from {repo}", repo,
                              lambda n: self._pull_json_once(key, repo, json_file))

    def _newer_locally(self, key: ArtifactKey, json_file: Path, remote: SyncStamp, repo: RepoRef,
                       adapter_dir: Path | None = None) -> bool:
        mine = records.local_stamp(key, json_file)
        local_at = records.local_version(key, json_file, adapter_dir)
        if local_at is None:
            return False
        same = mine is not None and mine.materialization_id == remote.materialization_id
        if same or local_at >= remote.at:
            why = "the same materialization" if same else f"newer ({local_at.isoformat()} >= {remote.materialized_at})"
            self.log(f"hub: kept local {key.label}: {why} than {repo}'s")
            return True
        return False

    def _pull_json_once(self, key: ArtifactKey, repo: RepoRef, json_file: Path) -> bool:
        path = key.json_path()
        with tempfile.TemporaryDirectory(prefix="bw-hub-") as tmp:
            head = self._head(repo, fresh=True)
            remote = self._remote_stamp(repo, key.stamp_path(), head, key, Path(tmp))
            if remote is None:
                if head is not None and self.target.exists(repo, path, revision=head):
                    raise HubSyncError(f"{repo}/{path}: has no sync record at {key.stamp_path()} (pushed by an "
                                       "older version?); refusing it: re-push it from the machine that made it")
                return False
            if self._newer_locally(key, json_file, remote, repo):
                return False
            got = self.target.download(repo, [path], Path(tmp), revision=head) / path
            _read_json(got, f"{repo}/{path}")
            if sha256_file(got) != remote.sha256:
                raise HubSyncError(f"{repo}/{path}: sha256 {sha256_file(got)[:12]} does not match its sync record "
                                   f"({remote.sha256[:12]}); refusing it")
            write_text(json_file, got.read_bytes().decode("utf-8"), newline="")  # the pushed bytes, unchanged
        records.write_record(key, json_file, remote, state="pulled", commit=head)
        self.log(f"hub: pulled {key.label} from {repo}@{str(head)[:12]}")
        return True

    def _pull_adapter_once(self, key: ArtifactKey, repo: RepoRef, json_file: Path) -> bool | None:
        head = self._head(repo, fresh=True)
        if head is None:
            return None
        with tempfile.TemporaryDirectory(prefix="bw-hub-") as tmp:
            remote = self._remote_stamp(repo, ADAPTER_STAMP_PATH, head, key, Path(tmp))
            if remote is None:
                if self.target.exists(repo, ADAPTER_VALUE_PATH, revision=head):
                    raise HubSyncError(f"{repo}: has no sync record at {ADAPTER_STAMP_PATH} (pushed by an older "
                                       "version?); refusing it: re-push it from the machine that trained it")
                return None
            where = f"{repo}/{ADAPTER_VALUE_PATH}"
            if not remote.adapter_sha256 or not remote.adapter_files:
                raise HubSyncError(f"{repo}/{ADAPTER_STAMP_PATH}: records no adapter files or sha256; refusing it")
            adapter_dir = remote.adapter_dir_under(records.artifact_base(key, json_file))
            if self._newer_locally(key, json_file, remote, repo, adapter_dir):
                return False
            got = self.target.download(repo, [ADAPTER_VALUE_PATH], Path(tmp), revision=head) / ADAPTER_VALUE_PATH
            value = _read_json(got, where)
            if sha256_file(got) != remote.sha256:
                raise HubSyncError(f"{where}: sha256 does not match its sync record; refusing it")
            if value.get("adapter_sha256") != remote.adapter_sha256:
                raise HubSyncError(f"{where}: records adapter_sha256 {str(value.get('adapter_sha256'))[:12]}, its sync "
                                   f"record {remote.adapter_sha256[:12]}; refusing it")
            staging = staging_dir(adapter_dir)
            try:
                self.target.download(repo, list(remote.adapter_files), staging, revision=head)
                self._verify_adapter(key, repo, staging, remote)
                replace_dir(staging, adapter_dir)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        value["adapter_dir"] = str(adapter_dir)  # the pushing machine's path means nothing here
        write_json(json_file, value, allow_nan=True)
        records.write_record(key, json_file, remote, state="pulled", commit=head)
        self.log(f"hub: pulled {key.label} from {repo}@{head[:12]} into {adapter_dir}")
        return True

    @staticmethod
    def _verify_adapter(key: ArtifactKey, repo: RepoRef, folder: Path, remote: SyncStamp) -> None:
        missing = [n for n in remote.adapter_files if not (folder / n).is_file()]
        if missing:
            raise HubSyncError(f"{repo}: {key.label} is missing {missing} listed in its sync record; refusing it")
        try:
            digest = adapter_sha256(folder)
        except FileNotFoundError as exc:
            raise HubSyncError(f"{repo}: {key.label}: {exc}; refusing it") from None
        if digest != remote.adapter_sha256:
            raise HubSyncError(f"{repo}: {key.label}'s adapter files hash to {digest[:12]}, not the recorded "
                               f"{str(remote.adapter_sha256)[:12]}; refusing a corrupt or foreign adapter")
        training = folder / METADATA_FILE
        if training.is_file() and _read_json(training, f"{repo}/{METADATA_FILE}").get("adapter_sha256") != digest:
            raise HubSyncError(f"{repo}/{METADATA_FILE}: records another adapter_sha256; refusing it")


def _adapter_dir(key: ArtifactKey, value: dict) -> Path | None:
    """The folder of a trained adapter: always the value's ``adapter_dir`` (never derived from the partition)."""
    if key.asset == ADAPTER_ASSET and value.get("status") == "ok" and value.get("adapter_dir"):
        return Path(value["adapter_dir"])
    return None


def _read_json(path: Path, where: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HubSyncError(f"{where}: listed on the target but not downloaded") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HubSyncError(f"{where}: not valid JSON ({exc}); refusing to use it") from None
    if not isinstance(data, dict):
        raise HubSyncError(f"{where}: expected a JSON object, got {type(data).__name__}; refusing to use it")
    return data
