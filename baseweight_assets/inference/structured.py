"""Constrained output for closed-label tasks: the OpenAI JSON schema, and unwrapping ``{"label": X}``."""

from __future__ import annotations

import json


def label_json_schema(labels: list[str]) -> dict:
    """OpenAI ``response_format`` that forces ``{"label": <one of labels>}`` (strict mode)."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "label",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": list(labels)}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }


def unwrap_label(text: str) -> str:
    """``{"label": "x"}`` -> ``x``; anything that does not parse as that object is returned unchanged."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text
    if isinstance(value, dict) and isinstance(value.get("label"), str):
        return value["label"]
    return text
