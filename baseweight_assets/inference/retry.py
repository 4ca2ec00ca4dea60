"""Which failures to retry, how long to wait (exponential backoff with jitter, Retry-After), a circuit breaker."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from dataclasses import dataclass

import openai


class IncompleteStreamError(Exception):
    """The stream ended before a finish reason and a usage chunk arrived (cut mid-way)."""


class CircuitOpenError(Exception):
    """The breaker tripped too many times: the endpoint is treated as down for the rest of the run."""


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts, dropped connections, cut or malformed streams; not 4xx client errors."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    transient = (openai.APIConnectionError, openai.APIResponseValidationError, TimeoutError,
                 IncompleteStreamError, json.JSONDecodeError, ConnectionError)
    if isinstance(exc, transient):
        return True
    # Transport errors raised from inside the stream iterator are not wrapped by openai.
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``: seconds or HTTP date)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


@dataclass(frozen=True)
class RetryPolicy:
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_retry_after_s: float = 300.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Wait before attempt ``attempt + 1``: Retry-After when given (never less), else equal-jitter backoff."""
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        backoff = cap / 2 + rng.uniform(0, cap / 2)
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s) + rng.uniform(0, min(1.0, cap / 2))
        return backoff


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; callers wait out ``cooldown_s``, then one probe goes.

    After ``max_trips`` openings the endpoint is considered down and ``before_call`` raises CircuitOpenError,
    so the remaining requests become error rows instead of hanging.
    """

    def __init__(self, failure_threshold: int = 5, cooldown_s: float = 30.0, max_trips: int = 3) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.max_trips = max_trips
        self.trips = 0
        self._consecutive = 0
        self._open_until = 0.0
        self._probing = False

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    async def before_call(self) -> None:
        while True:
            if self.trips > self.max_trips:
                raise CircuitOpenError(
                    f"circuit breaker opened {self.trips} times ({self.failure_threshold} consecutive failures "
                    f"each); endpoint treated as down")
            wait = self._open_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if self.trips and self._probing:
                await asyncio.sleep(0.05)
                continue
            if self.trips and self._consecutive == 0 and self._open_until > 0:
                self._probing = True  # half-open: this caller is the probe
            return

    def record_success(self) -> None:
        self._consecutive = 0
        self._probing = False
        self._open_until = 0.0

    def record_failure(self) -> None:
        self._consecutive += 1
        if self._probing or self._consecutive >= self.failure_threshold:
            self.trips += 1
            self._consecutive = 0
            self._probing = False
            self._open_until = time.monotonic() + self.cooldown_s
