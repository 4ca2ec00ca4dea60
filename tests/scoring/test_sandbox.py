"""Containment: every hostile program is scored as a failure; the host and the other programs are fine."""

import os
import shutil
import socket

import pytest

from baseweight_assets.scoring import sandbox
from baseweight_assets.scoring.sandbox import SandboxLimits, isolation_backend, run_program, run_programs

FAST = SandboxLimits(timeout_s=4.0, cpu_s=2, memory_mb=256, max_processes=8, max_file_mb=1)
GOOD = "def add(a, b):\n    return a + b\n"
GOOD_TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def _still_fine():
    assert run_program(GOOD, FAST, tests=GOOD_TESTS).status == "pass"


@needs_bwrap
def test_bubblewrap_is_the_backend():
    assert isolation_backend() == "bubblewrap"


def test_statuses():
    assert run_program(GOOD, FAST, tests=GOOD_TESTS).status == "pass"
    assert run_program(GOOD, FAST, tests=["assert add(1, 2) == 4"]).status == "wrong_answer"
    assert run_program("def add(a, b) return a", FAST, tests=GOOD_TESTS).status == "syntax_error"
    assert run_program(GOOD, FAST, tests=["assert sub(1, 2) == -1"]).status == "runtime_error"
    res = run_program("raise ValueError('boom')", FAST)
    assert res.status == "runtime_error" and "ValueError: boom" in res.stderr
    assert run_program(GOOD, FAST, tests=["assert add(x, 1)"], setup="x = 2").status == "pass"


def test_cannot_fake_a_pass_by_exiting_early():
    for code in ("import os\nos._exit(0)", "import sys\nsys.exit(0)", "print('BW-PASS 0')\nimport os\nos._exit(0)"):
        assert run_program(code, FAST, tests=["assert False"]).status != "pass"


def test_infinite_loop_and_sleep_time_out():
    assert run_program("while True:\n    pass", FAST).status == "timeout"
    res = run_program("import time\ntime.sleep(60)", SandboxLimits(timeout_s=1.0, cpu_s=2))
    assert res.status == "timeout" and res.wall_s < 5


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
    code = (f"import os, shutil\nos.remove({str(canary)!r})\n")
    assert run_program(code, FAST).status == "runtime_error"
    code = f"open({str(tmp_path / 'pwned.txt')!r}, 'w').write('x')"
    assert run_program(code, FAST).status == "runtime_error"
    assert run_program("open('/usr/pwned', 'w').write('x')", FAST).status == "runtime_error"
    assert run_program("import shutil\nshutil.rmtree('/usr')", FAST).status == "runtime_error"
    assert canary.read_text() == "keep me" and not (tmp_path / "pwned.txt").exists()
    assert not os.path.exists("/usr/pwned")


@needs_bwrap
def test_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
        assert run_program(code, FAST).status == "runtime_error"
        code = "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)"
        assert run_program(code, FAST).status == "runtime_error"
    finally:
        server.close()


def test_environment_secrets_are_invisible(monkeypatch):
    secret = "sk-test-SECRET-4f9d2b"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("BW_FAKE_SECRET", secret)
    res = run_program("import os", FAST, tests=["assert os.environ.get('BW_FAKE_SECRET') == " + repr(secret)])
    assert res.status == "wrong_answer"
    leak = ("import os, glob\ntexts = [str(dict(os.environ))]\n"
            "for p in glob.glob('/proc/*/environ'):\n"
            "    try:\n        texts.append(open(p, 'rb').read().decode('latin-1'))\n"
            "    except OSError:\n        pass\n"
            "raise RuntimeError(' '.join(texts))")
    res = run_program(leak, FAST)
    assert res.status == "runtime_error" and "RuntimeError" in res.stderr and secret not in res.stderr


def test_killing_the_parent_fails_and_the_host_survives():
    code = f"import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill({os.getpid()}, signal.SIGKILL)\n"
    assert run_program(code, FAST, tests=["assert False"]).status != "pass"
    _still_fine()  # this test process is alive to run it


def test_parallel_results_keep_order_and_hostile_neighbours_do_no_harm():
    codes = [GOOD, "while True:\n    pass", GOOD, "x = []\nwhile True:\n    x.append(bytearray(10**7))", GOOD]
    results = run_programs(codes, FAST, workers=2, tests=[GOOD_TESTS] * 5, setups=[""] * 5)
    assert [r.status for r in results] == ["pass", "timeout", "pass", "runtime_error", "pass"]


def test_rlimits_fallback_still_limits(monkeypatch, caplog):
    monkeypatch.setattr(sandbox, "isolation_backend", lambda: "rlimits")
    assert run_program(GOOD, FAST, tests=GOOD_TESTS).status == "pass"
    assert run_program("while True:\n    pass", FAST).status == "timeout"
    assert run_program("x = bytearray(2 * 1024**3)", FAST).status == "runtime_error"
