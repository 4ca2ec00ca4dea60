"""Which failures to retry, how long to wait (exponential backoff with jitter, Retry-After), a circuit breaker."""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC



class IncompleteStreamError(Exception):
    """The stream ended before a finish reason and a usage chunk arrived (cut mid-way)."""


class CircuitOpenError(Exception):
    """The breaker tripped too many times: the endpoint is treated as down for the rest of the run."""


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts, dropped connections, cut or malformed streams; not 4xx client errors."""
    import openai  # here, not at the top: every Dagster run imports this module, few of them call an API
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    transient = (openai.APIConnectionError, openai.APIResponseValidationError, TimeoutError,
                 IncompleteStreamError, json.JSONDecodeError, ConnectionError)
    if isinstance(exc, transient):
        return True
    # Transport errors raised from inside the stream iterator are not wrapped by openai.
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")


def is_rate_limited(exc: BaseException) -> bool:
    """A 429: the server asks everyone to slow down, not just this request."""
    import openai
    return isinstance(exc, openai.APIStatusError) and exc.status_code == 429


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date).

    A value that does not parse, is negative or not finite is treated as absent (None), so the caller falls back
    to its own backoff instead of failing; a date in the past means 0.
    """
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, unit_s in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        seconds = _wait_seconds(str(value).strip(), unit_s, dates=name == "retry-after") if value else None
        if seconds is not None:
            return seconds
    return None


def _wait_seconds(value: str, unit_s: float, *, dates: bool) -> float | None:
    try:
        number = float(value) * unit_s
    except ValueError:
        number = None
    if number is not None:
        return number if math.isfinite(number) and number >= 0 else None
    if not dates:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" (unknown zone) parses naive; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())


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
    """Opens after ``failure_threshold`` consecutive failures, counted in the order calls complete; callers wait out
    the cooldown (``cooldown_s``, or longer when the server sent a longer Retry-After, at most ``max_cooldown_s``),
    then one probe goes: its success closes the breaker, its failure opens it again.

    ``before_call`` returns a ticket naming the breaker's epoch (one per opening). An outcome reported with a ticket
    from before the last opening is ignored: that call was in flight during the outage, so its success must not
    close an open breaker and its failure must not count as the probe's (only its Retry-After still lengthens the
    cooldown). After ``max_trips`` openings the endpoint is considered down and ``before_call`` raises
    CircuitOpenError, so the remaining requests become error rows instead of hanging.
    """

    def __init__(self, failure_threshold: int = 5, cooldown_s: float = 30.0, max_trips: int = 3,
                 max_cooldown_s: float = 300.0) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.max_trips = max_trips
        self.max_cooldown_s = max_cooldown_s
        self.trips = 0
        self._epoch = 0
        self._consecutive = 0
        self._open_until = 0.0
        self._half_open = False  # opened and not yet closed by a successful probe
        self._probing = False

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    async def before_call(self) -> int:
        """Wait until a call may go; return its ticket for ``record_success``/``record_failure``."""
        while True:
            if self.trips > self.max_trips:
                raise CircuitOpenError(
                    f"circuit breaker opened {self.trips} times ({self.failure_threshold} consecutive failures "
                    f"each); endpoint treated as down")
            wait = self._open_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if self._half_open:
                if self._probing:
                    await asyncio.sleep(0.05)
                    continue
                self._probing = True  # this caller is the probe
            return self._epoch

    def record_success(self, ticket: int | None = None) -> None:
        if ticket is not None and ticket != self._epoch:
            return
        self._consecutive = 0
        if self._half_open:
            self._half_open = self._probing = False
            self._open_until = 0.0

    def record_failure(self, ticket: int | None = None, retry_after_s: float | None = None) -> None:
        if ticket is not None and ticket != self._epoch:
            if self.is_open and retry_after_s:
                self._open_until = max(self._open_until, time.monotonic() + min(retry_after_s, self.max_cooldown_s))
            return
        self._consecutive += 1
        if self._half_open or self._consecutive >= self.failure_threshold:
            self.trips += 1
            self._epoch += 1
            self._consecutive = 0
            self._half_open, self._probing = True, False
            cooldown = min(max(self.cooldown_s, retry_after_s or 0.0), max(self.cooldown_s, self.max_cooldown_s))
            self._open_until = time.monotonic() + cooldown
