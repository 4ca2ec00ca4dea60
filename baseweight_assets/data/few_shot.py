"""Few-shot examples: one deterministic choice from a pool, identical for every model and query."""

from __future__ import annotations

import random

from baseweight_assets.storage.hashing import stable_hash


def choose(pool: list[dict], n: int, seed: int, balance_by: str | None = None) -> list[dict]:
    """``n`` rows with distinct groups where possible; with ``balance_by`` alternate True/False."""
    rows = sorted(pool, key=lambda r: r["id"])
    random.Random(seed).shuffle(rows)
    chosen: list[dict] = []
    groups: set = set()
    for want in ([True, False] * n)[:n] if balance_by else [None] * n:
        pick = next((r for r in rows if r not in chosen and r["group"] not in groups
                     and (want is None or bool(r["meta"].get(balance_by)) == want)), None)
        pick = pick or next((r for r in rows if r not in chosen and r["group"] not in groups), None)
        pick = pick or next((r for r in rows if r not in chosen), None)
        if pick is None:
            break
        chosen.append(pick)
        groups.add(pick["group"])
    return chosen


def few_shot_hash(shots: list[dict]) -> str:
    return stable_hash([{"id": s["id"], "fields": s["fields"], "target": s["target"]} for s in shots])
