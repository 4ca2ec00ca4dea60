"""Keep Hub tokens out of messages: every error or log line from this package passes through ``redact``."""

from __future__ import annotations

import re

from baseweight_assets.hub.errors import HubSyncError  # noqa: F401 - re-exported: its historical home

_TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{8,}")


def redact(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _TOKEN_SHAPE.sub("hf_***", text)
