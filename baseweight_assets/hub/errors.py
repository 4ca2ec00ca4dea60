"""What can go wrong talking to the Hub (or a mirror), split by what the caller should do about it."""

from __future__ import annotations


class HubSyncError(RuntimeError):
    """A Hub (or mirror) operation failed for good; the message names the repo and path, never the token."""


class HubTransientError(HubSyncError):
    """Worth retrying after a wait (rate limit, 5xx, timeout, dropped connection); ``retry_after_s`` is the
    server's own ``Retry-After`` when it sent one."""

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class HubConflictError(HubSyncError):
    """The branch moved since the head this operation was based on (a concurrent writer): re-read the head,
    re-check, then retry; never commit over it blindly."""
