"""Push one materialized partition per commit; pull one that is missing locally; never lose or corrupt either side.

- A push is planned against a head commit (the one last seen, else read now) and committed with
  ``parent_commit=head``: if another writer moved the branch, the commit fails with HubConflictError, the head is
  re-read and the push re-planned, so nothing is overwritten blindly.
- A push never replaces a newer materialization of the same partition on the Hub, and a pull never replaces a
  local one that is newer or the same (``records.SyncStamp``: materialization id and time on both sides).
- Rate limits, 5xx, timeouts and conflicts are retried with jittered exponential backoff, a bounded number of
  times; then HubSyncError, which the IO manager turns into visible metadata, a failing check and a summary line.
- A pull is verified before anything local changes: the record's asset, partition and profile, the JSON's sha256,
  and every training seed's ``adapter_sha256`` over exactly the files that were pushed
  (``training.metadata.adapter_payload``).
- A trained lora_adapter cell pushes every training seed's adapter folder, by content address
  (``adapters/<adapter_key>/`` in the model repo of its base model and task, ``hub/layout.py``): a folder the repo
  already holds (another cell with identical training inputs) is not pushed again. A pull puts each folder at the
  same address under this machine's results folder (``ProjectPaths.adapters``) and rewrites every
  ``adapters[i].adapter_dir`` (and the top-level one) to it, so the predictions of the cell find them here.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub import cards, records
from baseweight_assets.hub.errors import HubConflictError, HubSyncError, HubTransientError
from baseweight_assets.hub.layout import (
    ADAPTER_INDEX_PATH, SYNCED_ASSETS, ArtifactKey, RepoRef, adapter_address_ok, adapter_file_path, adapter_folder_path,
    adapter_repo, dataset_repo,
)
from baseweight_assets.hub.records import AdapterStamp, SyncStamp
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

    def _remote_stamp(self, repo: RepoRef, path: str, head: str | None, key: ArtifactKey,
                      tmp: Path) -> SyncStamp | None:
        if head is None or not self.target.exists(repo, path, revision=head):
            return None
        got = self.target.download(repo, [path], tmp, revision=head) / path
        where = f"{repo}/{path}"
        stamp = SyncStamp.from_dict(_read_json(got, where), where)
        stamp.check_identity(key, where)
        return stamp

    # --- push -----------------------------------------------------------------------------------------------

    def push(self, key: ArtifactKey, json_file: Path, value: dict, *, fresh: bool = True) -> PushResult | None:
        """Commit the partition's JSON and its sync record in one commit (a trained adapter cell: also every
        training seed's folder the model repo lacks, the repo's index and card); None for an asset that does not
        sync.

        ``fresh``: this is a new materialization (stamped now); False re-pushes the one the local record
        describes. Raises HubSyncError once retries are spent; the local record then says ``failed``.
        """
        if not self.syncs(key.asset):
            return None
        json_file = Path(json_file)
        stamp: SyncStamp | None = None
        try:
            with tempfile.TemporaryDirectory(prefix="bw-hub-") as tmp:
                stamp, folders = self._stamp_for_push(key, json_file, value, fresh)
                repo = adapter_repo(self.hub, key) if folders is not None else dataset_repo(self.hub)
                files = self._files(key, json_file, stamp, folders is not None, Path(tmp))
                result = self._retrying(
                    f"push {key.label} to {repo}", repo,
                    lambda n: self._push_once(key, repo, files, stamp, value, folders, Path(tmp), n))
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
                        fresh: bool) -> tuple[SyncStamp, dict[str, Path] | None]:
        """The stamp to push and, for a trained adapter cell, its folders by content address (None otherwise).
        Every seed's folder must still hash to what the value records."""
        seeds = _seed_adapters(key, value)
        found: dict[str, tuple[AdapterStamp, Path]] = {}  # by adapter_key, first seed first
        for i, seed in enumerate(seeds or ()):
            entry, folder = _adapter_entry(key, i, seed)
            earlier = found.setdefault(entry.adapter_key, (entry, folder))[0]
            if earlier.adapter_sha256 != entry.adapter_sha256:
                raise HubSyncError(f"{key.label}: two seeds record adapter_key {entry.adapter_key} with "
                                   "different adapters; refusing to push")
        entries = [entry for entry, _ in found.values()]
        folders = None if seeds is None else {k: folder for k, (_, folder) in found.items()}
        if fresh:
            return SyncStamp.new(key, json_file, adapters=tuple(entries)), folders
        stamp = records.local_stamp(key, json_file)
        if stamp is None:
            raise HubSyncError(f"push {key.label}: no trusted local sync record for {json_file} to re-push")
        have = [(e.adapter_key, e.adapter_sha256) for e in entries]
        if have != [(a.adapter_key, a.adapter_sha256) for a in stamp.adapters]:
            raise HubSyncError(f"{key.label}: its adapter folders no longer match its sync record; not re-pushing it")
        # the JSON as it is here (a pulled value names this machine's folders): its sha256 is what is pushed
        return replace(stamp, sha256=sha256_file(json_file)), folders

    def _files(self, key: ArtifactKey, json_file: Path, stamp: SyncStamp, cell: bool, tmp: Path) -> dict[str, Path]:
        stamp_file = tmp / "sync.json"
        write_json(stamp_file, stamp.to_dict(), indent=1)
        if cell:
            return {key.adapter_value_path(): json_file, key.adapter_stamp_path(): stamp_file}
        return {key.json_path(): json_file, key.stamp_path(): stamp_file}

    def _push_once(self, key: ArtifactKey, repo: RepoRef, files: dict[str, Path], stamp: SyncStamp, value: dict,
                   folders: dict[str, Path] | None, tmp: Path, attempt: int) -> PushResult:
        self._ensure(repo)
        head = self._head(repo)
        stamp_path = key.adapter_stamp_path() if folders is not None else key.stamp_path()
        remote = self._remote_stamp(repo, stamp_path, head, key, tmp / f"remote-{attempt}")
        if remote is not None and remote.materialization_id == stamp.materialization_id:
            return PushResult("up_to_date", repo, head, "the Hub already holds this materialization", attempt)
        if remote is not None and remote.at > stamp.at:
            return PushResult("superseded", repo, None, f"{repo} holds a newer materialization "
                              f"({remote.materialized_at} > {stamp.materialized_at}); left in place", attempt)
        files = dict(files)
        folder_note = ""
        if folders is None:
            if repo.repo_type == "dataset" and not self.target.exists(repo, "README.md", revision=head):
                card = tmp / "dataset-README.md"
                card.write_text(cards.artifacts_dataset_card(repo_id=repo.repo_id, profiles=["smoke", "full"],
                                                             assets=sorted(self.synced)), encoding="utf-8")
                files["README.md"] = card
        else:
            added, held = self._adapter_files(key, repo, head, stamp, value, folders, files, tmp / f"index-{attempt}")
            folder_note = f"; adapter folders: {added} pushed, {held} already on the Hub"
        message = f"baseweight: {key.label} ({key.profile})"
        description = json.dumps({"asset": key.asset, "partition": key.partition, "profile": key.profile,
                                  "materialization_id": stamp.materialization_id,
                                  "materialized_at": stamp.materialized_at}, sort_keys=True)
        oid = self.target.commit(repo, files, message, description, parent_commit=head)
        self._heads[repo] = oid
        return PushResult("pushed", repo, oid, f"{len(files)} files on top of {str(head)[:12]}{folder_note}", attempt)

    def _adapter_files(self, key: ArtifactKey, repo: RepoRef, head: str | None, stamp: SyncStamp, value: dict,
                       folders: dict[str, Path], files: dict[str, Path], tmp: Path) -> tuple[int, int]:
        """Add to ``files`` each seed's folder the repo does not hold at ``head`` (one copy per content address),
        the repo's updated index and its card; return how many folders are pushed and how many were there."""
        index = self._remote_index(repo, head, tmp)
        held = index["adapters"]
        added = there = 0
        for a in stamp.adapters:
            known = held.get(a.adapter_key)
            if known is not None and known.get("adapter_sha256") == a.adapter_sha256:
                there += 1
                continue
            if known is not None:
                raise HubSyncError(
                    f"{repo}: {adapter_folder_path(a.adapter_key)} holds another adapter "
                    f"({str(known.get('adapter_sha256'))[:12]}) than {key.label}'s ({a.adapter_sha256[:12]}), trained "
                    "from the same inputs elsewhere; not replacing it (other cells may use it): pull the Hub's copy "
                    "instead of training it again")
            for name in a.files:
                files[adapter_file_path(a.adapter_key, name)] = folders[a.adapter_key] / name
            held[a.adapter_key] = {"adapter_sha256": a.adapter_sha256, "files": list(a.files)}
            added += 1
        metadata = {r.get("adapter_key"): r.get("metadata") or {} for r in value.get("adapters") or []
                    if isinstance(r, dict)}
        index["cells"][key.condition] = {
            "partition": key.partition, "materialization_id": stamp.materialization_id,
            "materialized_at": stamp.materialized_at, "n_train": value.get("n_train"),
            "seeds": [{"seed": a.seed, "adapter_key": a.adapter_key, "adapter_sha256": a.adapter_sha256,
                       "facts": cards.adapter_facts(metadata.get(a.adapter_key) or {})} for a in stamp.adapters],
        }
        index_file = tmp / "index.json"
        write_json(index_file, index, indent=1, sort_keys=True, allow_nan=True)
        card = tmp / "README.md"
        card.write_text(cards.adapter_card(repo_id=repo.repo_id, base_model=self.base_models.get(key.model, key.model),
                                           task=key.parts[0], profile=key.profile, index=index), encoding="utf-8")
        files.update({ADAPTER_INDEX_PATH: index_file, "README.md": card})
        return added, there

    def _remote_index(self, repo: RepoRef, head: str | None, tmp: Path) -> dict:
        """The model repo's index at ``head`` (empty for a new repo). One that does not parse is started afresh
        (it only lists what the repo holds; every cell's own sync record is what a pull trusts)."""
        empty: dict = {"adapters": {}, "cells": {}}
        if head is None or not self.target.exists(repo, ADAPTER_INDEX_PATH, revision=head):
            return empty
        got = self.target.download(repo, [ADAPTER_INDEX_PATH], tmp, revision=head) / ADAPTER_INDEX_PATH
        try:
            index = _read_json(got, f"{repo}/{ADAPTER_INDEX_PATH}")
        except HubSyncError as exc:
            self.log(f"hub: {exc}; starting the index afresh")
            return empty
        adapters, cells = index.get("adapters"), index.get("cells")
        if not isinstance(adapters, dict) or not isinstance(cells, dict) or \
                not all(isinstance(v, dict) for v in adapters.values()):
            self.log(f"hub: {repo}/{ADAPTER_INDEX_PATH} is not an index; starting it afresh")
            return empty
        return {**index, "adapters": adapters, "cells": cells}

    # --- pull -----------------------------------------------------------------------------------------------

    def pull(self, key: ArtifactKey, json_file: Path) -> bool:
        """Fetch the partition into ``json_file`` (a trained adapter cell: every seed's folder to its content
        address under the same base, ``adapters/<adapter_key>``); True if something was written. False when the
        Hub lacks it, or when the local copy is newer than the Hub's or the same materialization (it is kept).
        Raises HubSyncError, changing nothing locally, when the Hub's copy fails verification (other profile or
        partition, bad JSON, hash mismatch) or would replace a different local adapter at the same address.

        The JSON lands last and atomically: a partially pulled cell never looks materialized.
        """
        if not self.syncs(key.asset):
            return False
        json_file = Path(json_file)
        if key.is_adapter_cell:
            repo = adapter_repo(self.hub, key)
            pulled = self._retrying(f"pull {key.label} from {repo}", repo,
                                    lambda n: self._pull_adapter_once(key, repo, json_file))
            if pulled is not None:  # None: no adapter repo or no such cell in it; a skipped cell is a dataset JSON
                return pulled
        repo = dataset_repo(self.hub)
        return self._retrying(f"pull {key.label} from {repo}", repo,
                              lambda n: self._pull_json_once(key, repo, json_file))

    def _newer_locally(self, key: ArtifactKey, json_file: Path, remote: SyncStamp, repo: RepoRef) -> bool:
        mine = records.local_stamp(key, json_file)
        local_at = records.local_version(key, json_file)
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
        stamp_path, value_path = key.adapter_stamp_path(), key.adapter_value_path()
        with tempfile.TemporaryDirectory(prefix="bw-hub-") as tmp:
            remote = self._remote_stamp(repo, stamp_path, head, key, Path(tmp))
            if remote is None:
                if self.target.exists(repo, value_path, revision=head):
                    raise HubSyncError(f"{repo}: has no sync record at {stamp_path} (pushed by an older version?); "
                                       "refusing it: re-push it from the machine that trained it")
                return None
            where = f"{repo}/{value_path}"
            if not remote.adapters:
                raise HubSyncError(f"{repo}/{stamp_path}: records no adapter folders; refusing it")
            if self._newer_locally(key, json_file, remote, repo):
                return False
            got = self.target.download(repo, [value_path], Path(tmp), revision=head) / value_path
            value = _read_json(got, where)
            if sha256_file(got) != remote.sha256:
                raise HubSyncError(f"{where}: sha256 does not match its sync record; refusing it")
            seeds = value.get("adapters")
            listed = [(s.get("adapter_key"), s.get("adapter_sha256")) if isinstance(s, dict) else None
                      for s in seeds] if isinstance(seeds, list) else []
            if list(dict.fromkeys(listed)) != [(a.adapter_key, a.adapter_sha256) for a in remote.adapters]:
                raise HubSyncError(f"{where}: its adapters (adapter_key, adapter_sha256) are not the ones its sync "
                                   "record lists; refusing it")
            base = records.artifact_base(key, json_file)
            self._fetch_adapters(key, repo, head, remote, base)
        here = {a.adapter_key: str(a.dir_under(base)) for a in remote.adapters}
        for seed in seeds:  # the pushing machine's paths mean nothing here
            seed["adapter_dir"] = here[seed["adapter_key"]]
        top = value.get("adapter_key")  # the top level repeats seed 0's adapter
        value["adapter_dir"] = here[top] if isinstance(top, str) and top in here else seeds[0]["adapter_dir"]
        write_json(json_file, value, allow_nan=True)
        records.write_record(key, json_file, remote, state="pulled", commit=head)
        self.log(f"hub: pulled {key.label} from {repo}@{head[:12]} into {sorted(set(here.values()))}")
        return True

    def _fetch_adapters(self, key: ArtifactKey, repo: RepoRef, head: str, remote: SyncStamp, base: Path) -> None:
        """Every seed's folder at its address under ``base``: one already here with the recorded hash is kept (a
        cell sharing it, or an earlier pull), the others are downloaded into staging folders and verified, and only
        then swapped in (all or, if a swap itself fails, the verified ones before it)."""
        staged: list[tuple[Path, Path, Path]] = []  # (staging root, the folder in it, its address here)
        try:
            for a in remote.adapters:
                dest = a.dir_under(base)
                if self._already_here(key, repo, dest, a):
                    continue
                root = staging_dir(dest)
                staged.append((root, a.dir_under(root), dest))
                self.target.download(repo, [adapter_file_path(a.adapter_key, n) for n in a.files], root,
                                     revision=head)
                self._verify_adapter(key, repo, staged[-1][1], a)
            for _root, folder, dest in staged:
                replace_dir(folder, dest)
        finally:
            for root, _folder, _dest in staged:
                shutil.rmtree(root, ignore_errors=True)

    @staticmethod
    def _already_here(key: ArtifactKey, repo: RepoRef, dest: Path, a: AdapterStamp) -> bool:
        if not dest.exists():
            return False
        try:
            digest = adapter_sha256(dest)
        except FileNotFoundError:
            return False  # no adapter in it (nothing can be using it): replaced by the Hub's
        if digest == a.adapter_sha256:
            return True
        raise HubSyncError(f"{repo}: {key.label}: {dest} holds another adapter ({digest[:12]}) than the recorded "
                           f"{a.adapter_sha256[:12]} at the same address; refusing to replace a local folder other "
                           "cells may use (remove it to take the Hub's copy)")

    @staticmethod
    def _verify_adapter(key: ArtifactKey, repo: RepoRef, folder: Path, a: AdapterStamp) -> None:
        where = f"{repo}: {key.label}: {adapter_folder_path(a.adapter_key)}"
        missing = [n for n in a.files if not (folder / n).is_file()]
        if missing:
            raise HubSyncError(f"{where} is missing {missing} listed in its sync record; refusing it")
        try:
            digest = adapter_sha256(folder)
        except FileNotFoundError as exc:
            raise HubSyncError(f"{where}: {exc}; refusing it") from None
        if digest != a.adapter_sha256:
            raise HubSyncError(f"{where}: its adapter files hash to {digest[:12]}, not the recorded "
                               f"{a.adapter_sha256[:12]}; refusing a corrupt or foreign adapter")
        training = folder / METADATA_FILE
        if training.is_file() and _read_json(training, f"{where}/{METADATA_FILE}").get("adapter_sha256") != digest:
            raise HubSyncError(f"{where}/{METADATA_FILE}: records another adapter_sha256; refusing it")


def _seed_adapters(key: ArtifactKey, value: dict) -> list[dict] | None:
    """Every training seed's adapter record of a trained lora_adapter value (its ``adapters``; the top-level
    ``adapter_dir`` is seed 0's copy); None for anything else (a skipped cell, another asset)."""
    if not key.is_adapter_cell or value.get("status") != "ok":
        return None
    seeds = value.get("adapters")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, dict) for s in seeds):
        raise HubSyncError(f"{key.label}: a trained lora_adapter value lists its seeds' adapters in `adapters`; "
                           "this one has none; nothing to push")
    return seeds


def _adapter_entry(key: ArtifactKey, i: int, seed: dict) -> tuple[AdapterStamp, Path]:
    """What is pushed of seed ``i``'s folder, checked against the value: it exists at ``adapter_dir``, its address
    is a plain folder name and it still hashes to the recorded ``adapter_sha256``."""
    where = f"{key.label}: adapters[{i}] (seed {seed.get('seed')})"
    adapter_key = seed.get("adapter_key")
    if not adapter_address_ok(adapter_key):
        raise HubSyncError(f"{where}: adapter_key {adapter_key!r} is not a plain folder name; refusing to push")
    if not seed.get("adapter_dir"):
        raise HubSyncError(f"{where}: no adapter_dir; nothing to push")
    folder = Path(seed["adapter_dir"])
    if not folder.is_dir():
        raise HubSyncError(f"{where}: adapter_dir {folder} does not exist; nothing to push")
    digest = adapter_sha256(folder)
    if seed.get("adapter_sha256") != digest:
        raise HubSyncError(f"{where}: {folder} hashes to {digest[:12]} but the value records "
                           f"{str(seed.get('adapter_sha256'))[:12]}; refusing to push a folder that changed")
    names = [p.name for p in adapter_payload(folder)] + ([METADATA_FILE] if (folder / METADATA_FILE).is_file() else [])
    return AdapterStamp(adapter_key=adapter_key, adapter_sha256=digest, files=tuple(names),
                        seed=seed.get("seed")), folder


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
