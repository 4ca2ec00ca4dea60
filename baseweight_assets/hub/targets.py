"""Where synced artifacts go: the Hub through ``HfApi``, or a local folder with the same interface and semantics.

Both targets have a head commit per repo and a compare-and-swap commit: ``commit(..., parent_commit=head)`` fails
with ``HubConflictError`` when the branch moved since ``head`` was read, so a concurrent writer is detected, not
overwritten. Reads can be pinned to the head they were planned against (``revision=``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from baseweight_assets.hub.errors import HubConflictError, HubSyncError, HubTransientError
from baseweight_assets.hub.layout import RepoRef
from baseweight_assets.inference.retry import retry_after_s
from baseweight_assets.redaction import redact
from baseweight_assets.storage.atomic import write_text


class SyncTarget(Protocol):
    def ensure_repo(self, repo: RepoRef, *, private: bool) -> None: ...

    def head(self, repo: RepoRef) -> str | None:
        """The commit id the branch points at now; None when the repo does not exist."""

    def commit(self, repo: RepoRef, files: Mapping[str, Path], message: str, description: str = "", *,
               parent_commit: str | None = None) -> str:
        """Add ``{path_in_repo: local_file}`` in ONE commit on top of ``parent_commit`` (HubConflictError if the
        branch has moved past it); return the new commit id."""

    def exists(self, repo: RepoRef, path: str, *, revision: str | None = None) -> bool: ...

    def download(self, repo: RepoRef, patterns: list[str], dest: Path, *, revision: str | None = None) -> Path:
        """Copy the repo files matching ``patterns`` under ``dest`` (keeping repo-relative paths)."""


def _status(exc: BaseException) -> int | None:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _is_transient(exc: BaseException, status: int | None) -> bool:
    """429, 408, 5xx, timeouts and dropped connections; not other 4xx (auth, not found, bad request)."""
    if status is not None:
        return status in (408, 425, 429) or status >= 500
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3")


class HubTarget:
    """The Hugging Face Hub. ``api`` is an ``HfApi`` (or anything with its methods, e.g. a test recorder)."""

    def __init__(self, api: Any, *, revision: str = "main", token: str | None = None):
        self._api = api
        self._revision = revision
        self._token = token  # only for redaction; HfApi already holds it

    @classmethod
    def from_token(cls, token: str, *, revision: str = "main") -> HubTarget:
        from huggingface_hub import HfApi

        return cls(HfApi(token=token, library_name="baseweight-bench"), revision=revision, token=token)

    def _fail(self, action: str, repo: RepoRef, exc: Exception, *, can_conflict: bool = False) -> HubSyncError:
        status = _status(exc)
        message = redact(f"{action} {repo}@{self._revision}: {type(exc).__name__}: {exc}", self._token)
        if can_conflict and status in (409, 412):
            return HubConflictError(f"{message} (the branch moved since its head was read: a concurrent writer)")
        if _is_transient(exc, status):
            return HubTransientError(message, retry_after_s=retry_after_s(exc))
        return HubSyncError(message)

    def ensure_repo(self, repo: RepoRef, *, private: bool) -> None:
        try:
            self._api.create_repo(repo.repo_id, repo_type=repo.repo_type, private=private, exist_ok=True)
        except Exception as exc:
            raise self._fail("create_repo", repo, exc) from None

    def head(self, repo: RepoRef) -> str | None:
        try:
            info = self._api.repo_info(repo.repo_id, repo_type=repo.repo_type, revision=self._revision)
        except Exception as exc:
            if _status(exc) == 404:
                return None
            raise self._fail("repo_info", repo, exc) from None
        return getattr(info, "sha", None)

    def commit(self, repo: RepoRef, files: Mapping[str, Path], message: str, description: str = "", *,
               parent_commit: str | None = None) -> str:
        from huggingface_hub import CommitOperationAdd

        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(f)) for p, f in sorted(files.items())]
        try:
            info = self._api.create_commit(
                repo.repo_id, operations, commit_message=message, commit_description=description,
                repo_type=repo.repo_type, revision=self._revision, parent_commit=parent_commit,
            )
        except Exception as exc:
            raise self._fail(f"create_commit ({len(files)} files)", repo, exc, can_conflict=True) from None
        return str(getattr(info, "oid", info))

    def exists(self, repo: RepoRef, path: str, *, revision: str | None = None) -> bool:
        try:
            return bool(self._api.file_exists(repo.repo_id, path, repo_type=repo.repo_type,
                                              revision=revision or self._revision))
        except Exception as exc:
            if _status(exc) == 404:
                return False
            raise self._fail(f"file_exists {path}", repo, exc) from None

    def download(self, repo: RepoRef, patterns: list[str], dest: Path, *, revision: str | None = None) -> Path:
        try:
            self._api.snapshot_download(repo.repo_id, repo_type=repo.repo_type, revision=revision or self._revision,
                                        local_dir=str(dest), allow_patterns=patterns)
        except Exception as exc:
            raise self._fail(f"snapshot_download {patterns}", repo, exc) from None
        shutil.rmtree(Path(dest) / ".cache", ignore_errors=True)  # huggingface_hub's local_dir bookkeeping
        return Path(dest)


class LocalDirTarget:
    """A Hub stand-in on disk: ``<root>/<repo_type>s/<repo_id>/<path>``, the head commit id in ``.head``,
    commits logged in ``.commits.jsonl``.

    A commit holds the repo's exclusive lock, compares ``.head`` with its parent (compare-and-swap), stages its
    files, renames them into place and moves ``.head`` last; reads hold the shared lock, so they see one commit
    or the next, never a mix. The mirror keeps no history: a read pinned to a head that has moved on raises
    HubConflictError, and the caller re-reads the head.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def repo_dir(self, repo: RepoRef) -> Path:
        return self.root / f"{repo.repo_type}s" / repo.repo_id

    @contextmanager
    def _locked(self, repo: RepoRef, *, exclusive: bool) -> Iterator[Path]:
        base = self.repo_dir(repo)
        if not base.is_dir():
            raise HubSyncError(f"{repo}: repository does not exist in the mirror {self.root}")
        with open(base / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield base
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _read_head(base: Path) -> str | None:
        try:
            return (base / ".head").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _pinned(self, repo: RepoRef, base: Path, revision: str | None) -> None:
        head = self._read_head(base)
        if revision is not None and revision != head:
            raise HubConflictError(f"read {repo}@{revision[:12]}: the head moved to {str(head)[:12]} "
                                   "(a concurrent writer); re-read the head")

    def ensure_repo(self, repo: RepoRef, *, private: bool) -> None:
        self.repo_dir(repo).mkdir(parents=True, exist_ok=True)
        with self._locked(repo, exclusive=True) as base:
            if self._read_head(base) is None:  # like the Hub's "initial commit": a branch always has a head
                write_text(base / ".head", hashlib.sha1(f"initial:{repo}".encode()).hexdigest())

    def head(self, repo: RepoRef) -> str | None:
        if not self.repo_dir(repo).is_dir():
            return None
        with self._locked(repo, exclusive=False) as base:
            return self._read_head(base)

    def commit(self, repo: RepoRef, files: Mapping[str, Path], message: str, description: str = "", *,
               parent_commit: str | None = None) -> str:
        for path_in_repo in files:
            rel = PurePosixPath(path_in_repo)
            if rel.is_absolute() or ".." in rel.parts or path_in_repo.startswith("."):
                raise HubSyncError(f"commit {repo}: {path_in_repo!r} is not a plain path inside the repo")
        if not self.repo_dir(repo).is_dir():
            raise HubSyncError(f"commit {repo}: repository does not exist (call ensure_repo first)")
        with self._locked(repo, exclusive=True) as base:
            current = self._read_head(base)
            if parent_commit is not None and parent_commit != current:
                raise HubConflictError(f"commit {repo}: the head is {str(current)[:12]}, not {parent_commit[:12]} "
                                       "this commit was based on (a concurrent writer); re-read and retry")
            digest = hashlib.sha1(f"{current}\0{message}\0".encode())
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
            try:
                staged = {}
                for path_in_repo, src in sorted(files.items()):
                    tmp = staging / path_in_repo
                    tmp.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, tmp)
                    digest.update(path_in_repo.encode() + b"\0" + tmp.read_bytes())
                    staged[path_in_repo] = tmp
                for path_in_repo, tmp in staged.items():
                    (base / path_in_repo).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, base / path_in_repo)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            oid = digest.hexdigest()
            record = {"oid": oid, "parent": current, "message": message, "description": description,
                      "files": sorted(files), "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            with open(base / ".commits.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            write_text(base / ".head", oid)
        return oid

    def exists(self, repo: RepoRef, path: str, *, revision: str | None = None) -> bool:
        if not self.repo_dir(repo).is_dir():
            return False
        with self._locked(repo, exclusive=False) as base:
            self._pinned(repo, base, revision)
            return (base / path).is_file()

    def download(self, repo: RepoRef, patterns: list[str], dest: Path, *, revision: str | None = None) -> Path:
        with self._locked(repo, exclusive=False) as base:
            self._pinned(repo, base, revision)
            if any(ch in p for p in patterns for ch in "*?["):
                found = [p for p in base.rglob("*") if p.is_file()]
            else:  # exact paths: no walk over a large repo
                found = [base / p for p in patterns if (base / p).is_file()]
            for src in found:
                rel = src.relative_to(base).as_posix()
                if not rel.startswith(".") and any(fnmatch(rel, p) for p in patterns):
                    (Path(dest) / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, Path(dest) / rel)
        return Path(dest)
