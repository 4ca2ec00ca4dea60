"""A failed push is retried with bounded, jittered backoff; a concurrent writer is detected by the parent commit."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub.errors import HubConflictError, HubSyncError
from baseweight_assets.hub.layout import ArtifactKey, dataset_repo
from baseweight_assets.hub.records import SyncStamp, failed_pushes, read_record
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import HubTarget, LocalDirTarget
from baseweight_assets.inference.retry import RetryPolicy

from .fake_hfapi import RecordingHfApi

HUB = HubConfig(enabled=True, org="acme", dataset_repo="bench-artifacts", adapter_repo_prefix="bw")
REPO = ("dataset", "acme/bench-artifacts")
KEY = ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", "smoke")


def _local(root: Path, key: ArtifactKey = KEY, value: dict | None = None) -> tuple[Path, dict]:
    value = value or {"status": "ok", "metric": 0.5}
    path = root / key.json_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path, value


def _sync(target, sleeps: list[float], **kw) -> HubSync:
    return HubSync(target, HUB, sleep=sleeps.append, rng=random.Random(0), **kw)


def test_transient_errors_are_retried_with_backoff_and_retry_after(tmp_path):
    api = RecordingHfApi()
    api.fail_next["create_commit"] = [503, 429]  # then the third attempt goes through
    sleeps: list[float] = []
    path, value = _local(tmp_path)
    result = _sync(HubTarget(api), sleeps).push(KEY, path, value)
    assert result.state == "pushed" and result.attempts == 3
    assert len(api.history[REPO]) == 2  # the initial commit + exactly one applied commit
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 2.0           # attempt 1: equal jitter within [cap/2, cap], cap = 2 s
    assert 7.0 <= sleeps[1] <= 8.0           # the 429 said Retry-After: 7 (plus at most 1 s of jitter)
    assert read_record(KEY, path)["sync"]["state"] == "pushed"


def test_backoff_is_bounded_jittered_and_then_gives_up_visibly(tmp_path):
    api = RecordingHfApi()
    api.fail_next["create_commit"] = [503] * 10
    sleeps: list[float] = []
    path, value = _local(tmp_path)
    policy = RetryPolicy(base_delay_s=2.0, max_delay_s=5.0)
    with pytest.raises(HubSyncError, match=r"gave up after 4 attempts \(transient errors\); last: .*503"):
        _sync(HubTarget(api), sleeps, attempts=4, retry=policy).push(KEY, path, value)
    assert len(api.commits()) == 4 and len(sleeps) == 3
    caps = [2.0, 4.0, 5.0]  # doubling, capped at max_delay_s
    assert all(cap / 2 <= s <= cap for s, cap in zip(sleeps, caps)), sleeps
    assert len(set(sleeps)) == 3 and sleeps != [cap * 0.75 for cap in caps]  # jittered, not a fixed schedule
    # never silent: the local record says failed, the run summary lists it; the local artifact is intact
    assert read_record(KEY, path)["sync"]["state"] == "failed"
    assert failed_pushes(tmp_path / "smoke") == [f"hub sync failed: {KEY.label} (smoke): " +
                                                 read_record(KEY, path)["sync"]["detail"]]
    assert json.loads(path.read_text()) == value
    # a later successful push (of the same materialization) clears it
    api.fail_next.clear()
    _sync(HubTarget(api), sleeps).push(KEY, path, value, fresh=False)
    assert failed_pushes(tmp_path / "smoke") == []


def test_permanent_errors_are_not_retried(tmp_path):
    api = RecordingHfApi()
    api.fail_next["create_commit"] = [401]
    sleeps: list[float] = []
    path, value = _local(tmp_path)
    with pytest.raises(HubSyncError, match="401") as err:
        _sync(HubTarget(api), sleeps).push(KEY, path, value)
    assert "gave up" not in str(err.value) and sleeps == [] and len(api.commits()) == 1


def test_concurrent_writer_is_detected_and_its_commit_kept(tmp_path):
    api = RecordingHfApi()
    sleeps: list[float] = []
    sync = _sync(HubTarget(api), sleeps)
    first, first_value = _local(tmp_path, ArtifactKey("prepared_splits", "fpb", "smoke"), {"task": "fpb"})
    sync.push(ArtifactKey("prepared_splits", "fpb", "smoke"), first, first_value)
    seen = api.history[REPO][-1][0]

    # another machine commits a different partition between our head read and our commit
    api.before_commit = lambda: api.apply_commit(*REPO, {"smoke/local_scores/mbpp/other.json": b"{}"})
    path, value = _local(tmp_path)
    result = sync.push(KEY, path, value)
    assert result.state == "pushed" and result.attempts == 2 and len(sleeps) == 1
    parents = [c["parent_commit"] for c in api.commits()[1:]]
    assert parents[0] == seen                        # based on the head this session last saw: rejected (412)
    assert parents[1] == api.history[REPO][-2][0]    # re-read head = the other writer's commit
    files = api.repos[REPO]
    assert files["smoke/local_scores/mbpp/other.json"] == b"{}" and KEY.json_path() in files


def test_a_newer_materialization_pushed_concurrently_is_never_overwritten(tmp_path):
    api = RecordingHfApi()
    sync = _sync(HubTarget(api), [])
    path, value = _local(tmp_path / "mine")
    ours = SyncStamp.new(KEY, path)
    theirs_file, _ = _local(tmp_path / "theirs", value={"status": "ok", "metric": 0.9})
    theirs = SyncStamp.new(KEY, theirs_file)  # stamped after ours: newer
    sync.push(ArtifactKey("prepared_splits", "fpb", "smoke"), *_local(tmp_path, ArtifactKey(
        "prepared_splits", "fpb", "smoke"), {"task": "fpb"}))

    def other_writer():
        api.apply_commit(*REPO, {KEY.json_path(): theirs_file.read_bytes(),
                                 KEY.stamp_path(): json.dumps(theirs.to_dict()).encode()})

    api.before_commit = other_writer
    from unittest.mock import patch

    with patch.object(SyncStamp, "new", return_value=ours):
        result = sync.push(KEY, path, value)
    assert result.state == "superseded" and result.commit is None and "newer materialization" in result.detail
    assert api.repos[REPO][KEY.json_path()] == theirs_file.read_bytes()  # theirs stays
    assert read_record(KEY, path)["sync"]["state"] == "superseded"


def test_local_mirror_compare_and_swap(tmp_path):
    target = LocalDirTarget(tmp_path / "mirror")
    repo = dataset_repo(HUB)
    target.ensure_repo(repo, private=True)
    head = target.head(repo)
    f = tmp_path / "f.json"
    f.write_text("{}")
    new = target.commit(repo, {"a.json": f}, "one", parent_commit=head)
    assert target.head(repo) == new != head
    with pytest.raises(HubConflictError, match="not .* this commit was based on"):
        target.commit(repo, {"b.json": f}, "two", parent_commit=head)
    assert not (target.repo_dir(repo) / "b.json").exists() and target.head(repo) == new
    with pytest.raises(HubConflictError, match="the head moved"):
        target.download(repo, ["a.json"], tmp_path / "out", revision=head)
    with pytest.raises(HubSyncError, match="not a plain path"):
        target.commit(repo, {"../escape.json": f}, "three", parent_commit=new)


def test_many_writers_on_one_mirror_lose_nothing(tmp_path):
    """Eight sessions push eight partitions to one mirror at once: every commit lands, parents form one chain."""
    target_root = tmp_path / "mirror"
    keys = [ArtifactKey("local_scores", f"fpb|model{i}__zero-shot", "smoke") for i in range(8)]
    errors: list[BaseException] = []

    def push(key: ArtifactKey) -> None:
        try:
            sync = HubSync(LocalDirTarget(target_root), HUB, attempts=50,
                           retry=RetryPolicy(base_delay_s=0.005, max_delay_s=0.02))
            sync.push(key, *_local(tmp_path / key.partition.replace("|", "_"), key, {"k": key.partition}))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    base = LocalDirTarget(target_root).repo_dir(dataset_repo(HUB))
    log = [json.loads(line) for line in (base / ".commits.jsonl").read_text().splitlines()]
    assert len(log) == 8
    assert [c["parent"] for c in log[1:]] == [c["oid"] for c in log[:-1]]  # a single linear history
    assert (base / ".head").read_text() == log[-1]["oid"]
    for key in keys:
        assert json.loads((base / key.json_path()).read_text()) == {"k": key.partition}
