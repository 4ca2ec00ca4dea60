"""A recording stand-in for ``huggingface_hub.HfApi``: same method names and arguments, files kept in memory."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path


@dataclass
class FakeCommitInfo:
    oid: str


class RecordingHfApi:
    def __init__(self, token: str | None = None, fail_with: str | None = None):
        self._token = token
        self.fail_with = fail_with
        self.calls: list[tuple[str, dict]] = []
        self.repos: dict[tuple[str, str], dict[str, bytes]] = {}

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))
        if self.fail_with:
            raise RuntimeError(self.fail_with)

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False):
        self._record("create_repo", repo_id=repo_id, repo_type=repo_type, private=private, exist_ok=exist_ok)
        if (repo_type, repo_id) in self.repos and not exist_ok:
            raise RuntimeError("409 repo exists")
        self.repos.setdefault((repo_type, repo_id), {})

    def create_commit(self, repo_id, operations, *, commit_message, commit_description=None, repo_type=None,
                      revision=None):
        ops = list(operations)
        self._record("create_commit", repo_id=repo_id, repo_type=repo_type, revision=revision,
                     message=commit_message, description=commit_description,
                     paths=[op.path_in_repo for op in ops])
        files = self.repos[(repo_type, repo_id)]
        for op in ops:
            files[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()
        return FakeCommitInfo(oid=f"{len(self.calls):040x}")

    def repo_exists(self, repo_id, *, repo_type=None):
        self._record("repo_exists", repo_id=repo_id, repo_type=repo_type)
        return (repo_type, repo_id) in self.repos

    def file_exists(self, repo_id, filename, *, repo_type=None, revision=None):
        self._record("file_exists", repo_id=repo_id, filename=filename, repo_type=repo_type)
        return filename in self.repos.get((repo_type, repo_id), {})

    def snapshot_download(self, repo_id, *, repo_type=None, revision=None, local_dir=None, allow_patterns=None):
        self._record("snapshot_download", repo_id=repo_id, repo_type=repo_type, allow_patterns=allow_patterns)
        for path, blob in self.repos[(repo_type, repo_id)].items():
            if any(fnmatch.fnmatch(path, p) for p in allow_patterns or ["*"]):
                out = Path(local_dir) / path
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(blob)
        (Path(local_dir) / ".cache").mkdir(exist_ok=True)
        return str(local_dir)

    def commits(self) -> list[dict]:
        return [kw for name, kw in self.calls if name == "create_commit"]
