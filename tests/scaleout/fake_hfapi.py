"""A recording stand-in for ``huggingface_hub.HfApi``: same method names and arguments, files kept in memory.

It keeps each repo's commit history (so reads pinned to a commit see that commit), enforces ``parent_commit`` the
way the Hub does (412 "A commit has happened since"), and raises real ``HfHubHTTPError``s with an HTTP response:
``fail_next["create_commit"] = [503, 429]`` makes the next two commits fail with those statuses, ``fail_with``
makes every call fail with a plain error, and ``before_commit`` runs once just before the next commit is applied
(a concurrent writer committing in between).
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2
from huggingface_hub.errors import HfHubHTTPError

CONFLICT_MESSAGE = "A commit has happened since. Please refresh and try again."


@dataclass
class FakeCommitInfo:
    oid: str


@dataclass
class FakeRepoInfo:
    sha: str


def http_error(status: int, message: str = "", *, retry_after: str | None = None) -> HfHubHTTPError:
    request = httpx2.Request("POST", "https://huggingface.co/api/fake")
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    response = httpx2.Response(status, request=request, headers=headers)
    return HfHubHTTPError(f"{status} {message or 'error'}", response=response)


class RecordingHfApi:
    def __init__(self, token: str | None = None, fail_with: str | None = None):
        self._token = token
        self.fail_with = fail_with
        self.fail_next: dict[str, list[int]] = {}
        self.before_commit: Callable[[], None] | None = None
        self.calls: list[tuple[str, dict]] = []
        self.history: dict[tuple[str, str], list[tuple[str, dict[str, bytes]]]] = {}

    @property
    def repos(self) -> dict[tuple[str, str], dict[str, bytes]]:
        """Each repo's files at its head."""
        return {key: commits[-1][1] for key, commits in self.history.items()}

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        if self.fail_next.get(name):
            status = self.fail_next[name].pop(0)
            raise http_error(status, "injected", retry_after="7" if status == 429 else None)

    def _snapshot(self, repo_type, repo_id, revision) -> dict[str, bytes]:
        commits = self.history.get((repo_type, repo_id))
        if commits is None:
            raise http_error(404, f"Repository Not Found for {repo_type}:{repo_id}")
        if revision in (None, "main"):
            return commits[-1][1]
        for sha, files in commits:
            if sha == revision:
                return files
        raise http_error(404, f"Revision Not Found: {revision}")

    def apply_commit(self, repo_type: str, repo_id: str, files: dict[str, bytes], *, parent: str | None = None) -> str:
        """Commit as any writer (this client, or another one in a concurrency test)."""
        commits = self.history[(repo_type, repo_id)]
        head = commits[-1][0]
        if parent is not None and parent != head:
            raise http_error(412, f"Precondition Failed: {CONFLICT_MESSAGE}")
        sha = hashlib.sha1(f"{head}{len(commits)}{sorted(files)}".encode()).hexdigest()
        commits.append((sha, {**commits[-1][1], **files}))
        return sha

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False):
        self._record("create_repo", repo_id=repo_id, repo_type=repo_type, private=private, exist_ok=exist_ok)
        if (repo_type, repo_id) in self.history:
            if not exist_ok:
                raise http_error(409, "repo exists")
            return
        self.history[(repo_type, repo_id)] = [(hashlib.sha1(f"init {repo_id}".encode()).hexdigest(), {})]

    def repo_info(self, repo_id, *, repo_type=None, revision=None):
        self._record("repo_info", repo_id=repo_id, repo_type=repo_type, revision=revision)
        self._snapshot(repo_type, repo_id, revision)
        return FakeRepoInfo(sha=self.history[(repo_type, repo_id)][-1][0])

    def create_commit(self, repo_id, operations, *, commit_message, commit_description=None, repo_type=None,
                      revision=None, parent_commit=None):
        ops = list(operations)
        self._record("create_commit", repo_id=repo_id, repo_type=repo_type, revision=revision,
                     message=commit_message, description=commit_description, parent_commit=parent_commit,
                     paths=[op.path_in_repo for op in ops])
        if self.before_commit is not None:
            hook, self.before_commit = self.before_commit, None
            hook()
        files = {op.path_in_repo: Path(op.path_or_fileobj).read_bytes() for op in ops}
        return FakeCommitInfo(oid=self.apply_commit(repo_type, repo_id, files, parent=parent_commit))

    def repo_exists(self, repo_id, *, repo_type=None):
        self._record("repo_exists", repo_id=repo_id, repo_type=repo_type)
        return (repo_type, repo_id) in self.history

    def file_exists(self, repo_id, filename, *, repo_type=None, revision=None):
        self._record("file_exists", repo_id=repo_id, filename=filename, repo_type=repo_type, revision=revision)
        return filename in self._snapshot(repo_type, repo_id, revision)

    def snapshot_download(self, repo_id, *, repo_type=None, revision=None, local_dir=None, allow_patterns=None):
        self._record("snapshot_download", repo_id=repo_id, repo_type=repo_type, revision=revision,
                     allow_patterns=allow_patterns)
        for path, blob in self._snapshot(repo_type, repo_id, revision).items():
            if any(fnmatch.fnmatch(path, p) for p in allow_patterns or ["*"]):
                out = Path(local_dir) / path
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(blob)
        (Path(local_dir) / ".cache").mkdir(exist_ok=True)
        return str(local_dir)

    def commits(self) -> list[dict]:
        return [kw for name, kw in self.calls if name == "create_commit"]
