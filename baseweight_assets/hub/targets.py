"""Where synced artifacts go: the Hub through ``HfApi``, or a local folder with the same interface."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Protocol

from baseweight_assets.hub.layout import RepoRef
from baseweight_assets.hub.redaction import HubSyncError, redact


class SyncTarget(Protocol):
    def ensure_repo(self, repo: RepoRef, *, private: bool) -> None: ...

    def commit(self, repo: RepoRef, files: Mapping[str, Path], message: str, description: str = "") -> str:
        """Add ``{path_in_repo: local_file}`` in ONE commit; return the commit id."""

    def exists(self, repo: RepoRef, path: str) -> bool: ...

    def download(self, repo: RepoRef, patterns: list[str], dest: Path) -> Path:
        """Copy the repo files matching ``patterns`` under ``dest`` (keeping repo-relative paths)."""


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

    def _fail(self, action: str, repo: RepoRef, exc: Exception) -> HubSyncError:
        return HubSyncError(redact(f"{action} {repo}@{self._revision}: {type(exc).__name__}: {exc}", self._token))

    def ensure_repo(self, repo: RepoRef, *, private: bool) -> None:
        try:
            self._api.create_repo(repo.repo_id, repo_type=repo.repo_type, private=private, exist_ok=True)
        except Exception as exc:
            raise self._fail("create_repo", repo, exc) from None

    def commit(self, repo: RepoRef, files: Mapping[str, Path], message: str, description: str = "") -> str:
        from huggingface_hub import CommitOperationAdd

        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(f)) for p, f in sorted(files.items())]
        try:
            info = self._api.create_commit(
                repo.repo_id, operations, commit_message=message, commit_description=description,
                repo_type=repo.repo_type, revision=self._revision,
            )
        except Exception as exc:
            raise self._fail(f"create_commit ({len(files)} files)", repo, exc) from None
        return str(getattr(info, "oid", info))

    def exists(self, repo: RepoRef, path: str) -> bool:
        try:
            if not self._api.repo_exists(repo.repo_id, repo_type=repo.repo_type):
                return False
            return bool(self._api.file_exists(repo.repo_id, path, repo_type=repo.repo_type, revision=self._revision))
        except Exception as exc:
            raise self._fail(f"file_exists {path}", repo, exc) from None

    def download(self, repo: RepoRef, patterns: list[str], dest: Path) -> Path:
        try:
            self._api.snapshot_download(repo.repo_id, repo_type=repo.repo_type, revision=self._revision,
                                        local_dir=str(dest), allow_patterns=patterns)
        except Exception as exc:
            raise self._fail(f"snapshot_download {patterns}", repo, exc) from None
        shutil.rmtree(Path(dest) / ".cache", ignore_errors=True)  # huggingface_hub's local_dir bookkeeping
        return Path(dest)


class LocalDirTarget:
    """A Hub stand-in on disk: ``<root>/<repo_type>s/<repo_id>/<path>``, commits logged in ``.commits.jsonl``.

    Each commit's files are staged first and then renamed into place, so a killed sync leaves either the
    previous file or the new one, never a partial one.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def repo_dir(self, repo: RepoRef) -> Path:
        return self.root / f"{repo.repo_type}s" / repo.repo_id

    def ensure_repo(self, repo: RepoRef, *, private: bool) -> None:
        self.repo_dir(repo).mkdir(parents=True, exist_ok=True)

    def commit(self, repo: RepoRef, files: Mapping[str, Path], message: str, description: str = "") -> str:
        base = self.repo_dir(repo)
        if not base.is_dir():
            raise HubSyncError(f"commit {repo}: repository does not exist (call ensure_repo first)")
        digest = hashlib.sha1(message.encode())
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
        try:
            staged = {}
            for path_in_repo, src in sorted(files.items()):
                tmp = staging / path_in_repo
                tmp.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, tmp)
                digest.update(path_in_repo.encode() + tmp.read_bytes())
                staged[path_in_repo] = tmp
            for path_in_repo, tmp in staged.items():
                (base / path_in_repo).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, base / path_in_repo)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        oid = digest.hexdigest()
        record = {"oid": oid, "message": message, "description": description, "files": sorted(files),
                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with open(base / ".commits.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        return oid

    def exists(self, repo: RepoRef, path: str) -> bool:
        return (self.repo_dir(repo) / path).is_file()

    def download(self, repo: RepoRef, patterns: list[str], dest: Path) -> Path:
        base = self.repo_dir(repo)
        for src in base.rglob("*"):
            rel = src.relative_to(base).as_posix()
            if src.is_file() and not rel.startswith(".") and any(fnmatch(rel, p) for p in patterns):
                (Path(dest) / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, Path(dest) / rel)
        return Path(dest)
