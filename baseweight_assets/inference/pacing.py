"""Requests-per-minute and tokens-per-minute pacer over a sliding window (the provider's own limits), which backs
off for everyone when the provider answers 429."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class Pacer:
    """``await acquire(tokens)`` before each call; ``settle`` replaces the estimate with the real token count.

    A request larger than the whole TPM budget still goes alone in an empty window rather than never.
    ``rate_limited`` (a 429): no call starts until the server's wait is over, and the rpm/tpm limits are halved
    (at most once per call generation: 429s of calls started before the last cut do not cut again; never below
    ``min_scale`` of the configured limits); each full window without a 429 doubles them back.
    """

    def __init__(self, rpm: int | None, tpm: int | None, window_s: float = 60.0, min_scale: float = 1 / 16) -> None:
        self.rpm, self.tpm, self.window_s, self.min_scale = rpm, tpm, window_s, min_scale
        self.scale = 1.0
        self._cut_at = float("-inf")  # when the limits were last halved
        self._clean_since = 0.0  # start of the current window without a 429 (limits double back after each)
        self._paused_until = 0.0
        self._events: deque[list[float]] = deque()  # [start time, tokens]
        self._lock = asyncio.Lock()

    def limits(self) -> tuple[int | None, int | None]:
        """The (rpm, tpm) in force now: the configured ones times ``scale``, at least 1."""
        return (None if self.rpm is None else max(1, int(self.rpm * self.scale)),
                None if self.tpm is None else max(1, int(self.tpm * self.scale)))

    def _prune(self, now: float) -> None:
        while self._events and now - self._events[0][0] >= self.window_s:
            self._events.popleft()

    def _recover(self, now: float) -> None:
        while self.scale < 1.0 and now - self._clean_since >= self.window_s:
            self.scale = min(1.0, self.scale * 2)
            self._clean_since += self.window_s

    async def acquire(self, tokens: int) -> list[float]:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                if self.rpm is None and self.tpm is None:
                    return [now, float(tokens)]
                self._prune(now)
                self._recover(now)
                rpm, tpm = self.limits()
                used = sum(e[1] for e in self._events)
                rpm_ok = rpm is None or len(self._events) < rpm
                tpm_ok = tpm is None or not self._events or used + tokens <= tpm
                if rpm_ok and tpm_ok:
                    event = [now, float(tokens)]
                    self._events.append(event)
                    return event
                await asyncio.sleep(max(0.001, self._events[0][0] + self.window_s - now))

    def rate_limited(self, event: list[float], wait_s: float | None) -> None:
        """The call started at ``event`` got a 429: everyone waits ``wait_s`` (the server's Retry-After, or the
        retrying request's own backoff) and the limits are halved."""
        now = time.monotonic()
        self._paused_until = max(self._paused_until, now + max(0.0, wait_s or 0.0))
        if event[0] >= self._cut_at and (self.rpm is not None or self.tpm is not None):
            self.scale = max(self.min_scale, self.scale / 2)
            self._cut_at = now
        self._clean_since = now

    @staticmethod
    def settle(event: list[float], actual_tokens: int) -> None:
        event[1] = float(actual_tokens)
