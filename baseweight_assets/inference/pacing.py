"""Requests-per-minute and tokens-per-minute pacer over a sliding window (the provider's own limits)."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class Pacer:
    """``await acquire(tokens)`` before each call; ``settle`` replaces the estimate with the real token count.

    A request larger than the whole TPM budget still goes alone in an empty window rather than never.
    """

    def __init__(self, rpm: int | None, tpm: int | None, window_s: float = 60.0) -> None:
        self.rpm, self.tpm, self.window_s = rpm, tpm, window_s
        self._events: deque[list[float]] = deque()  # [start time, tokens]
        self._lock = asyncio.Lock()

    def _prune(self, now: float) -> None:
        while self._events and now - self._events[0][0] >= self.window_s:
            self._events.popleft()

    async def acquire(self, tokens: int) -> list[float]:
        if self.rpm is None and self.tpm is None:
            return [time.monotonic(), float(tokens)]
        async with self._lock:
            while True:
                now = time.monotonic()
                self._prune(now)
                used = sum(e[1] for e in self._events)
                rpm_ok = self.rpm is None or len(self._events) < self.rpm
                tpm_ok = self.tpm is None or not self._events or used + tokens <= self.tpm
                if rpm_ok and tpm_ok:
                    event = [now, float(tokens)]
                    self._events.append(event)
                    return event
                await asyncio.sleep(max(0.001, self._events[0][0] + self.window_s - now))

    @staticmethod
    def settle(event: list[float], actual_tokens: int) -> None:
        event[1] = float(actual_tokens)
