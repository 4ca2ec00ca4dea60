"""Runs INSIDE the sandbox (stdlib only; never imported by the host): ``python -I -S runner.py <channel fd>``.

It reads one JSON job from stdin -- the program, the setup code, the limits, the uid to drop to and, per test,
the probe expressions (``sandbox_judge.plan_test``; never an expected value) -- then drops privileges, sets the
resource limits, runs the program and the setup, and evaluates every probe in order. It reports on the channel
fd, one JSON object per line:

    {"ev": "load"}                                   about to compile and run the program
    {"ev": "load_error", "kind": "syntax"|"runtime", "msg": ...}
    {"ev": "test", "i": i}                           test i starts (the host times each test from here)
    {"ev": "probe", "i": i, "k": k, "v": <value>}    probe k of test i, encoded as sandbox_judge describes
    {"ev": "probe", "i": i, "k": k, "raised": type name, "msg": ...}
    {"ev": "done"}

Nothing here decides a pass: the host judges the probe values against expected values this process never
sees, so the program may tamper with this file's code, the channel or the process as it likes; it can only
change the values it claims.
"""

import json
import os
import resource
import sys
import traceback
from collections.abc import Iterator, Mapping, Set
from decimal import Decimal
from fractions import Fraction

_exit, _write = os._exit, os.write  # saved before the program can replace them
_SMALL_INT = 2**53
_MAX_DEPTH = 100
_MAX_LINE = 1 << 20
_MAX_REPR = 300


def _send(fd, event):
    data = (json.dumps(event, ensure_ascii=True, allow_nan=True) + "\n").encode()
    while data:
        data = data[_write(fd, data):]


def _encode(value, depth=0):
    """Plain-data encoding of a probe value (the format is documented in sandbox_judge)."""
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -_SMALL_INT < value < _SMALL_INT else {"i": hex(value)}
    if kind is float:
        return value
    if kind is list:
        return [_encode(x, depth + 1) for x in value]
    if kind is tuple:
        return {"t": [_encode(x, depth + 1) for x in value]}
    if kind is dict:
        return {"d": [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in value.items()]}
    if kind is set:
        return {"s": [_encode(x, depth + 1) for x in value]}
    if kind is frozenset:
        return {"fs": [_encode(x, depth + 1) for x in value]}
    if kind is bytes:
        return {"b": value.hex()}
    if kind is bytearray:
        return {"ba": value.hex()}
    if kind is complex:
        return {"c": [value.real, value.imag]}
    if kind is range:
        return {"r": [value.start, value.stop, value.step]}
    if kind is Fraction:
        return {"fr": [hex(value.numerator), hex(value.denominator)]}
    if kind is Decimal:
        return {"dec": str(value)}
    # Subclasses (Counter, OrderedDict, namedtuple, str/int enums...) compare like their builtin base.
    for base in (bool, int, float, str, complex, bytes, bytearray, frozenset, set, dict, tuple, list):
        if isinstance(value, base):
            return _encode(base(value) if base is not dict else dict(value.items()), depth)
    if isinstance(value, Mapping):  # os.environ, MappingProxyType...
        return _encode(dict(value.items()), depth)
    if isinstance(value, Set):  # dict.keys() and .items() compare like sets
        return _encode(set(value), depth)
    raise TypeError(kind.__name__)


def _opaque(value):
    try:
        name = type(value).__name__
        text = repr(value)
    except BaseException:  # noqa: BLE001 - a hostile __repr__
        name, text = "object", "?"
    return {"o": [str(name)[:100], str(text)[:_MAX_REPR]]}


def _probe_event(i, k, value, materialize):
    try:
        if materialize and isinstance(value, Iterator):
            value = list(value)
        encoded = _encode(value)
        event = {"ev": "probe", "i": i, "k": k, "v": encoded}
        if len(json.dumps(event)) > _MAX_LINE:
            event["v"] = {"o": [type(value).__name__, "value larger than the channel allows"]}
        return event
    except (TypeError, ValueError, RecursionError):
        return {"ev": "probe", "i": i, "k": k, "v": _opaque(value)}


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the program may have replaced or closed them
            pass


def _drop_privileges(uid):
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _set_limits(job):
    try:  # the kernel's OOM killer picks the program before anything else in a shared memory cgroup or pod
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass
    resource.setrlimit(resource.RLIMIT_CPU, (job["cpu_s"], job["cpu_s"] + 1))
    for kind, value in ((resource.RLIMIT_AS, job["memory_mb"] * 1024 * 1024),
                        (resource.RLIMIT_NPROC, job["max_processes"]),
                        (resource.RLIMIT_FSIZE, job["max_file_mb"] * 1024 * 1024),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(kind, (value, value))


def main():
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.set_inheritable(fd, False)
    _drop_privileges(job.get("uid"))
    _set_limits(job)
    _send(fd, {"ev": "load"})
    try:
        code = compile(job["code"], "solution.py", "exec")
        probes = [[(compile(src, f"test_{i}", "eval"), bool(mat)) for src, mat in test]
                  for i, test in enumerate(job["probes"])]
    except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as exc:
        traceback.print_exc()
        _send(fd, {"ev": "load_error", "kind": "syntax", "msg": f"{type(exc).__name__}: {exc}"[:500]})
        _flush()
        _exit(10)
    namespace = {"__name__": "__bw_solution__", "__builtins__": __builtins__}
    try:
        exec(code, namespace)
        exec(compile(job["setup"], "test_setup_code", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - SystemExit from the program is a failure too
        traceback.print_exc()
        _send(fd, {"ev": "load_error", "kind": "runtime", "msg": f"{type(exc).__name__}: {exc}"[:500]})
        _flush()
        _exit(11)
    for i, test in enumerate(probes):
        _send(fd, {"ev": "test", "i": i})
        for k, (expr, materialize) in enumerate(test):
            try:
                value = eval(expr, namespace)  # noqa: S307 - the program's own function, in its own sandbox
                event = _probe_event(i, k, value, materialize)
            except BaseException as exc:  # noqa: BLE001
                traceback.print_exc()
                event = {"ev": "probe", "i": i, "k": k, "raised": type(exc).__name__, "msg": str(exc)[:500]}
            _send(fd, event)
    _flush()
    _send(fd, {"ev": "done"})
    _exit(0)


main()
