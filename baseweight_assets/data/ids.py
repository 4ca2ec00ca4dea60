"""Content-addressed ids and hashes: the same content gives the same id on every run and machine."""

from __future__ import annotations

import hashlib
import json



def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_id(task_id: str, content: object) -> str:
    """``<task>-sha1(canonical json of content)[:12]``."""
    digest = hashlib.sha1(canonical_json(content).encode("utf-8")).hexdigest()
    return f"{task_id}-{digest[:12]}"


def normalise(text: str) -> str:
    """Lower-cased, whitespace-collapsed text: the key for exact-duplicate detection."""
    return " ".join(text.split()).lower()
