"""Whole-program bounds: memory and processes of the whole tree, size-capped /tmp and working directory, slots.

Where this host offers a cgroup (the project VM: v1, as root) the memory test reads the tree's measured peak;
the rlimits variant runs with the cgroup switched off and checks the product bound the sandbox states instead.
"""

import multiprocessing
import shutil

import pytest

from baseweight_assets.scoring import sandbox
from baseweight_assets.scoring.sandbox import SandboxLimits, memory_bound_mb, run_program
from baseweight_assets.scoring.sandbox_cgroup import find_cgroup_parent
from baseweight_assets.scoring.sandbox_slots import hold_slot

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
needs_cgroup = pytest.mark.skipif(find_cgroup_parent() is None, reason="no cgroup this user may create here")

# 24 children try to hold 48 MiB each (1.1 GiB in all); the whole program may hold 200 MiB and 8 tasks.
FORKER = (
    "import os, time\n"
    "children = 0\n"
    "for _ in range(24):\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError:\n"
    "        break\n"
    "    if pid == 0:\n"
    "        try:\n"
    "            block = b'x' * (48 << 20)\n"  # written, so resident
    "            time.sleep(3)\n"
    "        finally:\n"
    "            os._exit(0)\n"
    "    children += 1\n"
    "time.sleep(1.5)\n"
    "def forked():\n"
    "    return children\n"
)
LIMITS = SandboxLimits(timeout_s=8.0, cpu_s=4, memory_mb=200, max_processes=8, max_file_mb=64, tmp_mb=8)


@needs_bwrap
@needs_cgroup
def test_many_children_allocating_stay_inside_the_cgroup_bound():
    res = run_program(FORKER, LIMITS, tests=["assert forked() == 24"])
    assert "+cgroup" in res.backend and res.memory_bound_mb == LIMITS.memory_mb
    assert res.status != "pass"  # it could not start 24 children
    assert res.peak_memory_mb is not None and 48 < res.peak_memory_mb <= LIMITS.memory_mb, res


@needs_bwrap
def test_many_children_allocating_stay_inside_the_rlimit_product(monkeypatch):
    monkeypatch.setattr(sandbox, "find_cgroup_parent", lambda: None)
    res = run_program(FORKER, LIMITS, tests=["assert forked() <= 7"])  # the runner is one of the 8 processes
    assert res.backend == "bubblewrap+rlimits" and res.tests == ("pass",), res.stderr
    bound = memory_bound_mb(LIMITS, res.backend)
    assert res.memory_bound_mb == bound == 8 * 200 + 2 * 8
    assert 8 * (48 + 30) <= bound  # 8 processes of 48 MiB plus an interpreter each fit under the stated bound


def _filler(directory: str) -> str:
    return (
        "import os\n"
        "def fill():\n"
        "    written = 0\n"
        "    try:\n"
        "        for i in range(64):\n"  # 1 MiB files: the file-size rlimit (64 MiB) is not what stops it
        f"            with open(os.path.join({directory!r}, 'f%d' % i), 'wb') as fh:\n"
        "                fh.write(b'x' * (1 << 20))\n"
        "            written += 1 << 20\n"
        "    except OSError as exc:\n"
        "        return written, exc.errno\n"
        "    return written, None\n"
    )


@needs_bwrap
@pytest.mark.parametrize("directory", ["/tmp", "."])
def test_tmp_and_working_directory_fillers_stop_at_their_cap(directory):
    res = run_program(_filler(directory), LIMITS, tests=[
        f"assert fill()[0] <= {LIMITS.tmp_mb << 20}", "assert fill()[1] == 28"])  # ENOSPC
    assert res.tests == ("pass", "pass"), res.stderr


def _hold_and_report(inbox, release):
    with hold_slot() as slot:
        inbox.put(slot)
        release.get(timeout=60)  # hold it until the parent has read every slot


def test_slots_are_unique_across_processes():
    ctx = multiprocessing.get_context("spawn")
    inbox, release = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_hold_and_report, args=(inbox, release)) for _ in range(3)]
    for p in procs:
        p.start()
    try:
        slots = [inbox.get(timeout=60) for _ in procs]
        with hold_slot() as mine:
            assert len(set(slots) | {mine}) == 4
    finally:
        for p in procs:
            release.put("release")
        for p in procs:
            p.join(timeout=60)


def test_slot_is_released_when_its_holder_dies(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_hold_one_slot_then_die, args=(str(tmp_path), sender))
    proc.start()
    assert receiver.recv() == 0
    proc.join(timeout=60)
    assert proc.exitcode == 9  # it died holding the slot
    with hold_slot(tmp_path, n_slots=1, wait_s=5) as slot:
        assert slot == 0


def _hold_one_slot_then_die(directory, sender):
    import os
    from pathlib import Path

    with hold_slot(Path(directory), n_slots=1) as slot:
        sender.send(slot)  # a pipe send is done when it returns (a Queue's feeder thread may not be)
        os._exit(9)


def test_a_busy_slot_directory_times_out_with_a_clear_error(tmp_path):
    with hold_slot(tmp_path, n_slots=1):
        with pytest.raises(TimeoutError, match="all 1 sandbox slots"):
            with hold_slot(tmp_path, n_slots=1, wait_s=0.2):
                pass


def test_a_slot_directory_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="not writable by others"):
        with hold_slot(shared):
            pass
