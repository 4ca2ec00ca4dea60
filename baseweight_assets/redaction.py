"""Keep secrets out of rows, logs and error messages: every message that may quote a request, a response or an
exception from the OpenAI API, a vLLM server or the Hub passes through ``redact``.

The secret values come from the caller (the key the API client sends, the Hub token the target holds; both decided by
``Settings``): this module never reads the environment. Anything shaped like a key is masked even when nobody named
it: OpenAI-style keys (``sk-``/``rk-``/``pk-``, including the masked form the API echoes back, "sk-test-****CRET")
and Hub tokens (``hf_…``).
"""

from __future__ import annotations

import re

_KEY_SHAPES = ((re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-*]{6,}"), "***"), (re.compile(r"hf_[A-Za-z0-9]{8,}"), "hf_***"))


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret value replaced by ``***`` (longest first, so a secret that contains another
    is masked whole; empty and None values are ignored), then every key-shaped string masked."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    for shape, mask in _KEY_SHAPES:
        text = shape.sub(mask, text)
    return text
