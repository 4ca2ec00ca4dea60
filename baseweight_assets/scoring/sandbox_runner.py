"""Runs INSIDE the sandbox (stdlib only; never imported by the host).

Protocol: ``job.json`` in the working directory holds the limits, the uid to drop to and the tests; the
pass token arrives on stdin. Exit codes: 0 + ``BW-PASS <token>`` on stdout = pass, 10 syntax error,
11 runtime error, 12 wrong answer (an ``assert`` failed), 13 bad harness input. Only "pass" needs the
token: a program that exits 0 early (``os._exit(0)``) without running the tests cannot pass.
"""

import json
import os
import resource
import sys
import traceback

_exit, _write = os._exit, os.write  # saved before hostile code can replace them


def _limit(kind: int, value: int) -> None:
    resource.setrlimit(kind, (value, value))


def main() -> None:
    token = sys.stdin.readline().strip()
    with open("job.json", encoding="utf-8") as fh:
        job = json.load(fh)
    uid = job.get("uid")
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_CPU, (job["cpu_s"], job["cpu_s"] + 1))
    _limit(resource.RLIMIT_AS, job["memory_mb"] * 1024 * 1024)
    _limit(resource.RLIMIT_NPROC, job["max_processes"])
    _limit(resource.RLIMIT_FSIZE, job["max_file_mb"] * 1024 * 1024)
    _limit(resource.RLIMIT_CORE, 0)
    try:
        with open("solution.py", encoding="utf-8", errors="replace") as fh:
            source = fh.read()
        code = compile(source, "solution.py", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError):
        traceback.print_exc()
        sys.stderr.flush()
        _exit(10)
    try:
        setup = compile(job["setup"], "test_setup_code", "exec")
        tests = [compile(t, f"test_{i}", "exec") for i, t in enumerate(job["tests"])]
    except SyntaxError:
        traceback.print_exc()
        sys.stderr.flush()
        _exit(13)
    namespace = {"__name__": "__bw_solution__", "__builtins__": __builtins__}
    try:
        exec(code, namespace)
        exec(setup, namespace)
    except BaseException:  # noqa: BLE001 - SystemExit from the program is a failure too
        traceback.print_exc()
        sys.stderr.flush()
        _exit(11)
    for test in tests:
        try:
            exec(test, namespace)
        except AssertionError:
            traceback.print_exc()
            sys.stderr.flush()
            _exit(12)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            sys.stderr.flush()
            _exit(11)
    try:
        sys.stdout.flush()
    except BaseException:  # noqa: BLE001
        pass
    _write(1, f"\nBW-PASS {token}\n".encode())
    _exit(0)


main()
