"""A writer killed with SIGKILL mid-write never leaves a half-written artifact at the artifact's path."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _kill_mid_write(target: Path, tmp_path: Path) -> None:
    marker = tmp_path / "stalled"
    proc = subprocess.Popen([sys.executable, str(HERE / "slow_writer.py"), str(target), str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, "writer exited before stalling"
            assert time.monotonic() < deadline, "writer never stalled"
            time.sleep(0.05)
        partial = [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]
        assert partial and partial[0].stat().st_size > 1_000_000  # bytes really were on disk when killed
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("had_previous", [False, True])
def test_killed_writer_leaves_old_or_nothing(tmp_path, had_previous):
    target = tmp_path / "results" / "scores" / "fpb" / "smollm2-135m__zero-shot.json"
    target.parent.mkdir(parents=True)
    if had_previous:
        target.write_text(json.dumps({"status": "ok", "metric": 0.5}))
    _kill_mid_write(target, tmp_path)
    if had_previous:
        assert json.loads(target.read_text()) == {"status": "ok", "metric": 0.5}
    else:
        assert not target.exists()
    # Leftovers are hidden temp files the IO manager never reads as an artifact.
    leftovers = [p.name for p in target.parent.iterdir() if p != target]
    assert all(name.startswith(".") and name.endswith(".tmp") for name in leftovers)


def test_next_writer_removes_a_killed_writers_temporary_and_publishes_0644(tmp_path):
    from baseweight_assets.storage.atomic import write_json

    target = tmp_path / "scores" / "a.json"
    target.parent.mkdir()
    _kill_mid_write(target, tmp_path)
    left = [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1
    write_json(target, {"metric": 1})
    assert json.loads(target.read_text()) == {"metric": 1}
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]  # the dead writer's temp is gone
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # mkstemp's 0600 would hide it from other users


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_only_temporaries_of_gone_writers_are_removed(tmp_path):
    from baseweight_assets.storage.atomic import FOREIGN_TMP_STALE_S, remove_stale_temporaries
    from baseweight_assets.storage.liveness import machine_token, process_token, start_centis

    target = tmp_path / "a.json"
    live = _sleeper()
    dead = _sleeper()
    dead.kill()
    dead.wait()
    try:
        me = machine_token()
        names = {
            "live": f".a.json.{process_token(live.pid)}.abc123.tmp",            # a concurrent writer: kept
            "dead": f".a.json.{dead.pid}-{start_centis(live.pid)}-{me}.x1.tmp",   # its writer exited
            # the pid runs, but it is another process than the one that wrote (started at another time)
            "reused": f".a.json.{live.pid}-{start_centis(live.pid) - 500}-{me}.x2.tmp",
            "foreign_new": f".a.json.{live.pid}-1-0badf00d.x3.tmp",              # another host: too young
            "foreign_old": f".a.json.{live.pid}-1-0badf00d.x4.tmp",              # another host: abandoned
            "legacy_old": ".a.json.k2j4h5g6.tmp",                                # pre-token name, old
            "dead_stage": f".a.json.tmp-{dead.pid}-{start_centis(live.pid)}-{me}",
            "sibling": f".a.json.b.{dead.pid}-1-{me}.x5.tmp",                    # belongs to target a.json.b
        }
        for key, name in names.items():
            path = tmp_path / name
            path.mkdir() if key.endswith("stage") else path.write_text(key)
        old = time.time() - FOREIGN_TMP_STALE_S - 60
        for key in ("foreign_old", "legacy_old"):
            os.utime(tmp_path / names[key], (old, old))
        removed = {p.name for p in remove_stale_temporaries(target)}
    finally:
        live.kill()
        live.wait()
    assert removed == {names[k] for k in ("dead", "reused", "foreign_old", "legacy_old", "dead_stage")}
    assert {p.name for p in tmp_path.iterdir()} == {names[k] for k in ("live", "foreign_new", "sibling")}


def test_rename_is_followed_by_a_directory_fsync(tmp_path, monkeypatch):
    from baseweight_assets.storage import atomic

    target = tmp_path / "out" / "x.json"
    synced: list[tuple[bool, bool]] = []  # (is a directory, target already renamed into place)
    real_fsync = os.fsync

    def spy(fd):
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), target.exists()))
        return real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    atomic.write_json(target, {"a": 1})
    assert synced == [(False, False), (True, True)]  # the file's data first, then the directory after the rename
    site = tmp_path / "site"
    site_synced: list[tuple[bool, bool]] = []
    monkeypatch.setattr(atomic.os, "fsync",
                        lambda fd: site_synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), site.exists())))
    staging = atomic.staging_dir(site)
    (staging / "index.html").write_text("x")
    atomic.replace_dir(staging, site)
    assert site_synced == [(True, True)]  # replace_dir fsyncs the parent once the folder is in place
    assert (site / "index.html").read_text() == "x"
