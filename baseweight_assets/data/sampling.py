"""Seeded stratified sampling with caps, a floor per group and 50/50 balancing.

Written here rather than taken from scikit-learn because ``train_test_split`` has no per-group
floor, no cap-with-trim rule and no balance-then-stratify step, which the benchmark needs.
Rows are sorted by ``id`` first, so the sample does not depend on the order of the input file.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence


def allocate(available: dict[str, int], total: int, min_per_group: int) -> dict[str, int]:
    """How many rows each group gets: proportional (largest remainder), raised to ``min_per_group``
    (or all a group has), then trimmed back to ``total`` from the groups with most slack above
    their floor."""
    n = sum(available.values())
    total = min(total, n)
    if total <= 0 or n == 0:
        return {g: 0 for g in available}
    quota = {g: total * k / n for g, k in available.items()}
    floor = {g: min(k, min_per_group) for g, k in available.items()}
    alloc = {g: min(available[g], max(floor[g], math.floor(quota[g]))) for g in available}
    while sum(alloc.values()) < total:
        open_ = [g for g in alloc if alloc[g] < available[g]]
        g = max(open_, key=lambda g: (quota[g] - alloc[g], available[g] - alloc[g], g))
        alloc[g] += 1
    while sum(alloc.values()) > total:
        # floors overshoot: take from the group with most rows above its floor (then the largest)
        g = max((g for g in alloc if alloc[g] > 0),
                key=lambda g: (alloc[g] - floor[g], alloc[g] - quota[g], alloc[g], g))
        alloc[g] -= 1
    return alloc


def group_key(stratify_by: str | None) -> Callable[[dict], str]:
    if stratify_by is None:
        return lambda row: "all"
    if stratify_by == "group":
        return lambda row: str(row["group"])
    return lambda row: str(row.get("meta", {}).get(stratify_by, row.get(stratify_by)))


def stratified_sample(rows: Sequence[dict], total: int | None, min_per_group: int, seed: int,
                      stratify_by: str | None = "group") -> list[dict]:
    key = group_key(stratify_by)
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        groups[key(row)].append(row)
    alloc = allocate({g: len(v) for g, v in groups.items()}, len(rows) if total is None else total, min_per_group)
    rng = random.Random(seed)
    out = []
    for g in sorted(groups):
        members = groups[g][:]
        rng.shuffle(members)
        out.extend(members[: alloc[g]])
    rng.shuffle(out)
    return out


def sample(rows: Sequence[dict], total: int | None, min_per_group: int, seed: int,
           stratify_by: str | None = "group", balance_by: str | None = None) -> list[dict]:
    """Stratified sample; with ``balance_by`` (a boolean meta field) half comes from each side."""
    if balance_by is None:
        return stratified_sample(rows, total, min_per_group, seed, stratify_by)
    yes = [r for r in rows if r["meta"][balance_by]]
    no = [r for r in rows if not r["meta"][balance_by]]
    per_side = min(len(yes), len(no), (len(rows) if total is None else total) // 2)
    out = stratified_sample(yes, per_side, min_per_group, seed, stratify_by)
    out += stratified_sample(no, per_side, min_per_group, seed + 1, stratify_by)
    random.Random(seed).shuffle(out)
    return out


def split_off(rows: Sequence[dict], n: int, min_per_group: int, seed: int, stratify_by: str | None = "group",
              balance_by: str | None = None) -> tuple[list[dict], list[dict]]:
    """(sample of n, the rest in id order): used to carve val, the few-shot pool and FPB's test."""
    taken = sample(rows, n, min_per_group, seed, stratify_by, balance_by)
    ids = {r["id"] for r in taken}
    return taken, sorted((r for r in rows if r["id"] not in ids), key=lambda r: r["id"])
