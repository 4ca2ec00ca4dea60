"""A writer killed with SIGKILL mid-write never leaves a half-written artifact at the artifact's path."""

from __future__ import annotations

import json
import os
import signal
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
