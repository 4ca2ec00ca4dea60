"""A pull never replaces a newer local materialization; smoke and full artifacts never merge, in either direction."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import ArtifactKey, adapter_repo, dataset_repo
from baseweight_assets.hub.records import SyncStamp, local_stamp, write_record
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import LocalDirTarget

from .helpers import trained_cell

HUB = HubConfig(enabled=True, org="acme", dataset_repo="bench-artifacts", adapter_repo_prefix="bw")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _write(base: Path, key: ArtifactKey, value: dict) -> Path:
    path = base / key.json_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


def _materialize(base: Path, key: ArtifactKey, value: dict, at: datetime) -> Path:
    """Write ``value`` as a local materialization made at ``at`` (its JSON plus its local sync record)."""
    path = _write(base, key, value)
    write_record(key, path, SyncStamp.new(key, path, now=at), state="pending")
    return path


@pytest.fixture
def published(tmp_path):
    """Machine A materialized local_scores[...] at T0 and pushed it."""
    key = ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", "smoke")
    sync = HubSync(LocalDirTarget(tmp_path / "mirror"), HUB)
    path = _write(tmp_path / "a", key, {"metric": 0.1})
    from unittest.mock import patch

    stamp = SyncStamp.new(key, path, now=T0)
    with patch.object(SyncStamp, "new", return_value=stamp):
        assert sync.push(key, path, {"metric": 0.1}).state == "pushed"
    return key, sync


@pytest.mark.parametrize("offset, kept", [(timedelta(seconds=1), True), (timedelta(0), True),
                                          (timedelta(seconds=-1), False)])
def test_pull_keeps_a_local_materialization_that_is_newer_or_the_same_age(tmp_path, published, offset, kept):
    key, sync = published
    local = _materialize(tmp_path / "b", key, {"metric": 0.7}, T0 + offset)
    assert sync.pull(key, local) is (not kept)
    assert json.loads(local.read_text()) == ({"metric": 0.7} if kept else {"metric": 0.1})
    if not kept:  # the local record now describes the pulled materialization
        assert local_stamp(key, local).materialized_at == T0.isoformat(timespec="microseconds")


def test_without_a_record_the_files_mtime_is_the_local_version(tmp_path, published):
    key, sync = published
    local = _write(tmp_path / "b", key, {"metric": 0.7})  # e.g. written while sync was off: no record
    assert sync.pull(key, local) is False and json.loads(local.read_text()) == {"metric": 0.7}
    old = (T0 - timedelta(days=1)).timestamp()
    os.utime(local, (old, old))
    assert sync.pull(key, local) is True and json.loads(local.read_text()) == {"metric": 0.1}


def test_a_pulled_copy_is_the_same_materialization_and_is_not_pulled_again(tmp_path, published):
    key, sync = published
    local = tmp_path / "b" / key.json_path()
    assert sync.pull(key, local) is True
    assert sync.pull(key, local) is False  # same materialization id: nothing to do
    assert sync.push(key, local, json.loads(local.read_text()), fresh=False).state == "up_to_date"


def test_repo_ids_and_paths_always_carry_the_profile():
    smoke = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-8", "smoke")
    full = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-500", "full")
    assert adapter_repo(HUB, smoke).repo_id == "acme/bw-smollm2-135m-fpb-smoke"
    assert adapter_repo(HUB, full).repo_id == "acme/bw-smollm2-135m-fpb-full"
    assert smoke.adapter_stamp_path() == "baseweight/lora-8/sync.json"  # each cell's record in the shared repo
    assert ArtifactKey("local_scores", "fpb|x__zero-shot", "full").json_path() == \
        "full/local_scores/fpb/x__zero-shot.json"
    assert ArtifactKey("local_scores", "fpb|x__zero-shot", "smoke").stamp_path() == \
        "baseweight-sync/smoke/local_scores/fpb/x__zero-shot.json"
    # a name the Hub would cut at 96 characters keeps its profile and stays unique
    long_a = ArtifactKey("lora_adapter", "t" * 40 + "|" + "m" * 60 + "a__lora-8", "smoke")
    long_b = ArtifactKey("lora_adapter", "t" * 40 + "|" + "m" * 60 + "b__lora-8", "smoke")
    ids = {adapter_repo(HUB, long_a).repo_id, adapter_repo(HUB, long_b).repo_id}
    assert len(ids) == 2 and all(len(i.split("/")[1]) == 96 and i.endswith("-smoke") for i in ids)


@pytest.mark.parametrize("pushed_as, pulled_as", [("full", "smoke"), ("smoke", "full")])
def test_an_artifact_recorded_under_the_other_profile_is_refused(tmp_path, pushed_as, pulled_as):
    """Copy one profile's files onto the other's path in the mirror (a mis-merge): the pull refuses them."""
    target = LocalDirTarget(tmp_path / "mirror")
    sync = HubSync(target, HUB)
    src = ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", pushed_as)
    dst = ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", pulled_as)
    sync.push(src, _write(tmp_path / "a", src, {"metric": 0.3}), {"metric": 0.3})
    repo_dir = target.repo_dir(dataset_repo(HUB))
    for rel_src, rel_dst in ((src.json_path(), dst.json_path()), (src.stamp_path(), dst.stamp_path())):
        (repo_dir / rel_dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo_dir / rel_src, repo_dir / rel_dst)
    out = tmp_path / "b" / dst.json_path()
    with pytest.raises(HubSyncError, match=f"recorded profile '{pushed_as}' differs from this run's '{pulled_as}'"):
        sync.pull(dst, out)
    assert not out.exists()
    # and a push to that path refuses to write over the other profile's record
    with pytest.raises(HubSyncError, match="recorded profile"):
        sync.push(dst, _write(tmp_path / "c", dst, {"metric": 0.9}), {"metric": 0.9})


@pytest.mark.parametrize("pushed_as, pulled_as", [("full", "smoke"), ("smoke", "full")])
def test_an_adapter_repo_of_the_other_profile_is_refused(tmp_path, pushed_as, pulled_as):
    target = LocalDirTarget(tmp_path / "mirror")
    sync = HubSync(target, HUB)
    src = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-8", pushed_as)
    dst = ArtifactKey("lora_adapter", "fpb|smollm2-135m__lora-8", pulled_as)
    value = trained_cell(tmp_path / "a" / pushed_as, seeds=2)
    sync.push(src, _write(tmp_path / "a", src, value), value)
    shutil.copytree(target.repo_dir(adapter_repo(HUB, src)), target.repo_dir(adapter_repo(HUB, dst)))
    out = tmp_path / "b" / dst.json_path()
    with pytest.raises(HubSyncError, match=f"recorded profile '{pushed_as}'"):
        sync.pull(dst, out)
    assert not out.exists() and not (tmp_path / "b" / pulled_as / "adapters").exists()


def test_an_artifact_pushed_without_a_record_is_refused_not_trusted(tmp_path):
    target = LocalDirTarget(tmp_path / "mirror")
    key = ArtifactKey("local_scores", "fpb|smollm2-135m__zero-shot", "smoke")
    repo = dataset_repo(HUB)
    target.ensure_repo(repo, private=True)
    legacy = _write(tmp_path / "a", key, {"metric": 0.5})
    target.commit(repo, {key.json_path(): legacy}, "legacy push", parent_commit=target.head(repo))
    with pytest.raises(HubSyncError, match="has no sync record"):
        HubSync(target, HUB).pull(key, tmp_path / "b" / key.json_path())
