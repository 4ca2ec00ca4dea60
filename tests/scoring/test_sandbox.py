"""Containment: every hostile program is scored as a failure; the host and the other programs are fine.

Forged passes are in test_sandbox_forgery.py, whole-tree bounds in test_sandbox_bounds.py, the judge's pure
logic in test_sandbox_judge.py.
"""

import os
import shutil
import socket

import pytest

from baseweight_assets.scoring import sandbox
from baseweight_assets.scoring.sandbox import (
    SandboxLimits, SandboxUnavailable, isolation_backend, memory_bound_mb, run_program, run_programs,
)

FAST = SandboxLimits(timeout_s=4.0, cpu_s=2, memory_mb=256, max_processes=8, max_file_mb=1)
TIGHT = SandboxLimits(timeout_s=2.0, cpu_s=1, memory_mb=256, max_processes=8, max_file_mb=1)  # for spinners
GOOD = "def add(a, b):\n    return a + b\n"
GOOD_TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def _still_fine():
    assert run_program(GOOD, FAST, tests=GOOD_TESTS).status == "pass"


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setattr(sandbox, "_bubblewrap_status", lambda: (False, "bwrap disabled by the test"))


@needs_bwrap
def test_bubblewrap_is_the_backend_and_every_result_records_it():
    backend = isolation_backend()
    assert backend in ("bubblewrap+rlimits", "bubblewrap+cgroup-v1", "bubblewrap+cgroup-v2")
    res = run_program(GOOD, FAST, tests=GOOD_TESTS)
    assert res.backend == backend and res.memory_bound_mb == memory_bound_mb(FAST, backend)


def test_statuses_and_per_test_outcomes():
    res = run_program(GOOD, FAST, tests=GOOD_TESTS)
    assert (res.status, res.tests) == ("pass", ("pass", "pass"))
    res = run_program(GOOD, FAST, tests=["assert add(1, 2) == 3", "assert add(1, 2) == 4", "assert add(0, 0) == 0"])
    assert (res.status, res.tests) == ("wrong_answer", ("pass", "wrong_answer", "pass"))
    assert "add(1, 2) -> 3" in res.stderr  # the judge says what the program returned
    res = run_program("def add(a, b) return a", FAST, tests=GOOD_TESTS)
    assert (res.status, res.tests) == ("syntax_error", ("not_run", "not_run"))
    assert run_program(GOOD, FAST, tests=["assert sub(1, 2) == -1"]).status == "runtime_error"
    res = run_program("raise ValueError('boom')", FAST)
    assert res.status == "runtime_error" and "ValueError: boom" in res.stderr
    assert run_program(GOOD, FAST, tests=["assert add(x, 1)"], setup="x = 2").status == "pass"
    # The program's own assert failing inside a probe is a wrong answer, as it was in-process.
    code = "def add(a, b):\n    assert a > 0\n    return a + b\n"
    assert run_program(code, FAST, tests=["assert add(-1, 1) == 0"]).status == "wrong_answer"
    res = run_program("print('hello')\n" + GOOD, FAST, tests=GOOD_TESTS)
    assert res.status == "pass" and "hello" in res.stdout


def test_a_test_that_is_not_an_assert_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match=r"program 1, test 0: only assert statements"):
        run_programs([GOOD, GOOD], FAST, tests=[GOOD_TESTS, ["x = add(1, 2)"]], setups=["", ""])
    with pytest.raises(ValueError, match="not valid Python"):
        run_program(GOOD, FAST, tests=["assert add(1,"])


def test_infinite_loop_and_sleep_time_out():
    assert run_program("while True:\n    pass", TIGHT).status == "timeout"
    res = run_program("import time\ntime.sleep(60)", SandboxLimits(timeout_s=1.0, cpu_s=2))
    assert res.status == "timeout" and res.wall_s < 5


def test_per_test_timeout_inside_the_overall_one():
    code = "import time\ndef f(x):\n    if x == 2:\n        time.sleep(30)\n    return x\n"
    limits = SandboxLimits(timeout_s=20.0, cpu_s=5, test_timeout_s=1.0)
    res = run_program(code, limits, tests=["assert f(1) == 1", "assert f(2) == 2", "assert f(3) == 3"])
    assert (res.status, res.tests) == ("timeout", ("pass", "timeout", "not_run"))
    assert "per-test limit of 1.0s" in res.stderr and res.wall_s < 5
    res = run_program("import time\ntime.sleep(30)", limits, tests=["assert f(1) == 1"])
    assert res.status == "timeout" and "loading the program" in res.stderr and res.wall_s < 5


def test_unbounded_allocation_fails():
    code = "x = []\nwhile True:\n    x.append(bytearray(10_000_000))"
    assert run_program(code, FAST).status == "runtime_error"
    _still_fine()


@needs_bwrap
def test_fork_bomb_is_contained():
    code = "import os\nwhile True:\n    os.fork()"
    assert run_program(code, FAST).status in ("runtime_error", "timeout")
    _still_fine()


def test_huge_file_write_fails():
    code = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * 50_000_000)"
    assert run_program(code, FAST).status == "runtime_error"


@needs_bwrap
def test_files_outside_the_sandbox_are_untouchable(tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("keep me")
    code = f"import os, shutil\nos.remove({str(canary)!r})\n"
    assert run_program(code, FAST).status == "runtime_error"
    code = f"open({str(tmp_path / 'pwned.txt')!r}, 'w').write('x')"
    assert run_program(code, FAST).status == "runtime_error"
    assert run_program("open('/usr/pwned', 'w').write('x')", FAST).status == "runtime_error"
    assert run_program("import shutil\nshutil.rmtree('/usr')", FAST).status == "runtime_error"
    assert canary.read_text() == "keep me" and not (tmp_path / "pwned.txt").exists()
    assert not os.path.exists("/usr/pwned")


@needs_bwrap
def test_loopback_and_outside_network_are_unreachable():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    # The program returns what each attempt did; its own loopback listener proves connect() itself works.
    code = (
        "import socket\n"
        "def attempt(host, port):\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2).close()\n"
        "        return 'connected'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "def own_loopback():\n"
        "    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
        "    return attempt('127.0.0.1', s.getsockname()[1])\n"
    )
    try:
        tests = [f"assert attempt('127.0.0.1', {port}) == 'connected'",
                 "assert attempt('1.1.1.1', 53) == 'connected'", "assert own_loopback() == 'connected'"]
        res = run_program(code, FAST, tests=tests)
        assert res.tests == ("wrong_answer", "wrong_answer", "pass"), res.stderr
        with pytest.raises(socket.timeout):
            server.accept()  # nothing ever reached the host's listener
    finally:
        server.close()


@needs_bwrap
def test_environment_secrets_are_invisible_even_through_proc(monkeypatch):
    secret = "sk-test-SECRET-4f9d2b"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("BW_FAKE_SECRET", secret)
    res = run_program("import os", FAST, tests=["assert os.environ.get('BW_FAKE_SECRET') == " + repr(secret)])
    assert res.status == "wrong_answer"
    # Every environ it can open: its own, its parent's (bwrap's pid 1) and any other process's in /proc.
    leak = (
        "import os, glob\n"
        "def environs():\n"
        "    paths = ['/proc/%d/environ' % os.getppid(), '/proc/1/environ', *glob.glob('/proc/*/environ')]\n"
        "    texts = [str(dict(os.environ))]\n"
        "    for p in paths:\n"
        "        try:\n"
        "            texts.append(open(p, 'rb').read().decode('latin-1'))\n"
        "        except OSError:\n"
        "            pass\n"
        "    return len(set(paths)), ' '.join(texts)\n"
    )
    tests = ["assert environs()[0] >= 2",  # control: it saw its own and its parent's environ files
             "assert '/sandbox' in environs()[1]",  # control: its own environment (HOME) came through
             f"assert {secret!r} in environs()[1]"]
    res = run_program(leak, FAST, tests=tests)
    assert res.tests == ("pass", "pass", "wrong_answer"), res.stderr


def test_killing_the_parent_fails_and_the_host_survives():
    code = f"import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill({os.getpid()}, signal.SIGKILL)\n"
    assert run_program(code, FAST, tests=["assert False"]).status != "pass"
    _still_fine()  # this test process is alive to run it


def test_parallel_results_keep_order_and_hostile_neighbours_do_no_harm():
    codes = [GOOD, "while True:\n    pass", GOOD, "x = []\nwhile True:\n    x.append(bytearray(10**7))", GOOD]
    results = run_programs(codes, TIGHT, workers=2, tests=[GOOD_TESTS] * 5, setups=[""] * 5)
    assert [r.status for r in results] == ["pass", "timeout", "pass", "runtime_error", "pass"]


def test_without_bubblewrap_it_refuses_unless_the_caller_opts_in(no_bwrap):
    with pytest.raises(SandboxUnavailable, match="bwrap disabled by the test.*allow_unsandboxed=True"):
        run_program(GOOD, FAST, tests=GOOD_TESTS)
    with pytest.raises(SandboxUnavailable):
        run_programs([GOOD], FAST, tests=[GOOD_TESTS])
    res = run_program(GOOD, FAST, tests=GOOD_TESTS, allow_unsandboxed=True)
    assert res.status == "pass" and res.backend.startswith("unsandboxed+")


def test_the_opt_in_fallback_still_limits(no_bwrap):
    kw = {"allow_unsandboxed": True}
    assert run_program("while True:\n    pass", TIGHT, **kw).status == "timeout"
    assert run_program("x = bytearray(2 * 1024**3)", FAST, **kw).status == "runtime_error"
    # A forged pass is still impossible: the judge compares outside, whatever the program prints or exits with.
    assert run_program("import os\nprint('BW-PASS')\nos._exit(0)", FAST, tests=GOOD_TESTS, **kw).status != "pass"


def test_stated_memory_bound():
    limits = SandboxLimits(memory_mb=100, max_processes=4, tmp_mb=10)
    assert memory_bound_mb(limits, "bubblewrap+cgroup-v1") == 100
    assert memory_bound_mb(limits, "bubblewrap+rlimits") == 4 * 100 + 2 * 10
    assert memory_bound_mb(limits, "unsandboxed+rlimits") == 400


def test_limits_from_task_yaml_take_the_new_keys_and_reject_unknown_ones():
    limits = SandboxLimits.from_task({"timeout_s": 3, "tmp_mb": 8, "test_timeout_s": 1.5}, timeout_s=2.0)
    assert (limits.timeout_s, limits.tmp_mb, limits.test_timeout_s) == (2.0, 8, 1.5)
    with pytest.raises(TypeError):
        SandboxLimits.from_task({"memory": 1})
