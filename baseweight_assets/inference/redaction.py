"""Keep API keys out of rows, logs and error messages."""

from __future__ import annotations

import os
import re

# OpenAI-style keys, including the masked form the API echoes back ("sk-test-****CRET").
_KEY_PATTERN = re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-*]{6,}")
_KEY_ENV_HINTS = ("KEY", "TOKEN", "SECRET")


def redact(text: str, *extra_secrets: str) -> str:
    """Replace every key-like string, and the value of every *KEY/*TOKEN/*SECRET env var, with ``***``."""
    secrets = [s for s in extra_secrets if s]
    secrets += [v for k, v in os.environ.items() if v and len(v) >= 8 and any(h in k.upper() for h in _KEY_ENV_HINTS)]
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _KEY_PATTERN.sub("***", text)
