"""Process-group leader for a model server: runs the server as its child and takes the whole group down (the
server and every worker it started) when the step that started it dies, also by ``kill -9``.

It learns of the death from PR_SET_PDEATHSIG (Linux: the kernel sends SIGTERM the moment the parent exits; strictly,
when the parent's thread that started it exits, so a server must be started and stopped in one thread, as the
``with`` block of ``ManagedServer`` does) and, as a fallback elsewhere, by polling its parent pid. The server
itself gets PR_SET_PDEATHSIG=SIGKILL, so it cannot outlive this watchdog either. A server that exits on its own
ends the watchdog with the server's exit code.

Usage: python server_watchdog.py PARENT_PID GRACE_S -- COMMAND...
Run by path with the standard library only, so it starts fast and needs nothing installed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def parent_death_signal(sig: int) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux; elsewhere a no-op)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def take_down(child: subprocess.Popen | None, grace_s: float) -> None:
    """SIGTERM to the whole group, up to ``grace_s`` for the server to exit, then SIGKILL to all (this one last)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while child is not None and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    parent, grace_s, command = int(argv[0]), float(argv[1]), argv[3:]
    stop: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: stop.append(signum))
    parent_death_signal(signal.SIGTERM)
    if stop or os.getppid() != parent:  # stopped, or the parent died before the death signal was armed
        take_down(None, 0.0)
    child = subprocess.Popen(command, preexec_fn=lambda: parent_death_signal(signal.SIGKILL))
    while True:
        code = child.poll()
        if code is not None:
            return code if code >= 0 else 128 - code
        if stop or os.getppid() != parent:
            take_down(child, grace_s)
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
