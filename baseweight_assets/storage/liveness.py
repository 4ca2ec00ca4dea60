"""Is the process that left a file behind still running? A pid alone is not an identity (pids are reused), so a
process is named by (pid, start time) and a machine token; files written by other machines or before a reboot
cannot be judged by pid at all and fall back to their age.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket

import psutil


@functools.lru_cache(maxsize=1)
def machine_token() -> str:
    """8 hex characters naming this host and this boot: a pid recorded under another token is meaningless here."""
    return hashlib.sha1(f"{socket.gethostname()}|{psutil.boot_time():.0f}".encode()).hexdigest()[:8]


def start_centis(pid: int) -> int | None:
    """When ``pid`` started, in centiseconds since the epoch (psutil: boot time + /proc start ticks); None if gone."""
    try:
        return round(psutil.Process(pid).create_time() * 100)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return None


def is_running(pid: int, started_centis: int) -> bool:
    """True when ``pid`` is alive and is the very process that started at ``started_centis`` (not a reused pid)."""
    now = start_centis(pid)
    if now is None or abs(now - started_centis) > 1:  # one centisecond of rounding slack
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_token(pid: int | None = None) -> str:
    """``<pid>-<start centis>-<machine>`` for this process (or ``pid``): what temp files and pidfiles record."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}-{start_centis(pid) or 0}-{machine_token()}"


def token_is_running(token: str) -> bool | None:
    """Whether the process named by a ``process_token`` runs: True/False on this machine, None for another one."""
    try:
        pid, started, machine = token.split("-")
        pid_n, started_n = int(pid), int(started)
    except ValueError:
        return None
    if machine != machine_token():
        return None
    return is_running(pid_n, started_n)
