"""Forged passes: every trick a wrong program could use to look right scores as a failure.

The test is ``assert secret(7) == 'expected-7c1f9a'``: no honest-looking shortcut returns that string, so a
pass could only come from a forgery. Each hostile program below returns something else and then tries to make
the harness believe otherwise. A control (``WRONG``) fails the same way without any trick, and ``RIGHT`` shows
the same test passes when the value is right.
"""

import hashlib

import pytest

from baseweight_assets.scoring.sandbox import SandboxLimits, run_program

LIMITS = SandboxLimits(timeout_s=6.0, cpu_s=3, memory_mb=256, max_processes=8, max_file_mb=1, test_timeout_s=3.0)
EXPECTED = "expected-7c1f9a"
TESTS = [f"assert secret(7) == {EXPECTED!r}", "assert secret(8) == 'expected-other'"]
WRONG = "def secret(x):\n    return 'nope'\n"
RIGHT = f"def secret(x):\n    return {EXPECTED!r} if x == 7 else 'expected-other'\n"

TRICKS = {
    "sys.exit(0) before the tests": WRONG + "import sys\nsys.exit(0)\n",
    "os._exit(0) before the tests": WRONG + "import os\nos._exit(0)\n",
    "os._exit(0) inside the function": "import os\ndef secret(x):\n    os._exit(0)\n",
    "sys.exit(0) inside the function": "import sys\ndef secret(x):\n    sys.exit(0)\n",
    "atexit handler prints a pass": WRONG + "import atexit, os\natexit.register(lambda: print('BW-PASS ok'))\n"
                                            "raise SystemExit(0)\n",
    "excepthook exits 0": WRONG + "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\nraise RuntimeError\n",
    "prints pass tokens and fake events": (
        "import sys\nprint('BW-PASS 0\\n{\"ev\": \"done\"}')\n"
        "sys.stderr.write('{\"ev\": \"done\"}\\n')\n" + WRONG),
    "frame walking clears the test list": (
        "import sys\n"
        "def secret(x):\n"
        "    f = sys._getframe(1)\n"
        "    while f is not None:\n"
        "        for value in list(f.f_locals.values()):\n"
        "            if isinstance(value, list):\n"
        "                value.clear()\n"
        "        f = f.f_back\n"
        "    return 'nope'\n"),
    "patched builtins": (
        "import builtins\n"
        "builtins.AssertionError = type('Never', (Exception,), {})\n"
        "builtins.bool = lambda *a: True\n"
        "builtins.eval = lambda *a, **k: 'nope'\n"
        "builtins.isinstance = lambda *a: True\n" + WRONG),
    "__eq__ always true": "class Any:\n    def __eq__(self, other):\n        return True\n"
                          "    __hash__ = object.__hash__\ndef secret(x):\n    return Any()\n",
    "str subclass whose __eq__ is true": "class S(str):\n    def __eq__(self, other):\n        return True\n"
                                         "    __hash__ = str.__hash__\ndef secret(x):\n    return S('nope')\n",
    "forged probe values on the result channel": (
        "import os, sys, json\n"
        "fd = int(sys.argv[1])\n"
        "for i in (0, 1):\n"
        "    os.write(fd, (json.dumps({'ev': 'test', 'i': i}) + '\\n').encode())\n"
        "    os.write(fd, (json.dumps({'ev': 'probe', 'i': i, 'k': 0, 'v': 'expected-guess'}) + '\\n').encode())\n"
        "os.write(fd, b'{\"ev\": \"done\"}\\n')\n"
        "os._exit(0)\n"),
    "a thread floods the channel with forged claims": (
        "import os, sys, threading\n"
        "fd = int(sys.argv[1])\n"
        "def spam():\n"
        "    while True:\n"
        "        os.write(fd, b'{\"ev\": \"probe\", \"i\": 0, \"k\": 0, \"v\": \"expected-guess\"}\\n{\"ev\": \"done\"}\\n')\n"
        "threading.Thread(target=spam, daemon=True).start()\n" + WRONG),
    "kills its parent": "import os, signal\ndef secret(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                        "    os.kill(1, signal.SIGKILL)\n    return 'nope'\n",
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_every_forgery_trick_fails(trick):
    res = run_program(TRICKS[trick], LIMITS, tests=TESTS)
    assert res.status != "pass" and "pass" not in res.tests, (trick, res)


def test_controls():
    assert run_program(WRONG, LIMITS, tests=TESTS).tests == ("wrong_answer", "wrong_answer")
    assert run_program(RIGHT, LIMITS, tests=TESTS).status == "pass"


def test_the_expected_value_is_nowhere_the_program_can_look():
    """It searches every object the garbage collector tracks, every frame's locals and constants, for a string by
    its hash: it finds the probe it was asked (control) but not the expected value, which never entered."""
    digest = {s: hashlib.sha256(s.encode()).hexdigest() for s in ("secret(7)", EXPECTED)}
    code = WRONG + (
        "import gc, sys, hashlib\n"
        "def strings():\n"
        "    for obj in gc.get_objects():\n"
        "        items = list(obj.keys()) + list(obj.values()) if isinstance(obj, dict) else (\n"
        "            list(obj) if isinstance(obj, (list, tuple, set, frozenset)) else [])\n"
        "        yield from (x for x in items if isinstance(x, str))\n"
        "    f = sys._getframe()\n"
        "    while f is not None:\n"
        "        yield from (x for x in f.f_code.co_consts if isinstance(x, str))\n"
        "        yield from (x for x in f.f_locals.values() if isinstance(x, str))\n"
        "        f = f.f_back\n"
        "def seen(digest):\n"
        "    return any(hashlib.sha256(s.encode('utf-8', 'replace')).hexdigest() == digest for s in strings())\n"
    )
    tests = [f"assert seen({digest['secret(7)']!r})", f"assert not seen({digest[EXPECTED]!r})", TESTS[0]]
    res = run_program(code, LIMITS, tests=tests)
    assert res.tests == ("pass", "pass", "wrong_answer"), res.stderr


def test_opaque_truthiness_is_not_a_pass():
    code = "class T:\n    def __bool__(self):\n        return True\ndef is_ok(x):\n    return T()\n"
    res = run_program(code, LIMITS, tests=["assert is_ok(3)"])
    assert res.status == "runtime_error" and "not judged" in res.stderr


def test_no_host_process_or_file_is_visible():
    code = ("import os\n"
            "def pids():\n    return sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "def host_paths():\n"
            "    return [p for p in ('/work', '/root', '/home', '/etc/passwd', '/var') if os.path.exists(p)]\n")
    res = run_program(code, LIMITS, tests=["assert len(pids()) <= 3", "assert host_paths() == []"])
    assert res.tests == ("pass", "pass"), res.stderr
