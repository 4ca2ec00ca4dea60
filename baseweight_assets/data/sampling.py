"""Seeded stratified sampling with caps, a floor per group and 50/50 balancing.

Written here rather than taken from scikit-learn because ``train_test_split`` has no per-group
floor, no cap-with-trim rule and no balance-then-stratify step, which the benchmark needs.
Rows are sorted by ``id`` first, so the sample does not depend on the order of the input file.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
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


def _shuffled_groups(rows: Sequence[dict], seed: int, stratify_by: str | None
                     ) -> tuple[dict[str, list[dict]], random.Random]:
    """Rows by group, each group in one seeded order (groups shuffled in sorted-name order), and the
    generator, which the caller keeps drawing from."""
    key = group_key(stratify_by)
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        groups[key(row)].append(row)
    rng = random.Random(seed)
    for g in sorted(groups):
        rng.shuffle(groups[g])
    return groups, rng


def stratified_sample(rows: Sequence[dict], total: int | None, min_per_group: int, seed: int,
                      stratify_by: str | None = "group") -> list[dict]:
    groups, rng = _shuffled_groups(rows, seed, stratify_by)
    alloc = allocate({g: len(v) for g, v in groups.items()}, len(rows) if total is None else total, min_per_group)
    out = []
    for g in sorted(groups):
        out.extend(groups[g][: alloc[g]])
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


def _nested_allocations(available: dict[str, int], sizes: Sequence[int], min_per_group: int
                        ) -> list[dict[str, int]]:
    """Per-group counts for ascending ``sizes``, each ``allocate``'s answer unless that would take rows back
    from a group (largest remainder is not monotone in the total: the Alabama paradox); then the group keeps
    its rows and the surplus is taken from the groups that grew, most above their proportional quota first."""
    n = sum(available.values())
    out, prev = [], {g: 0 for g in available}
    for size in sizes:
        target = allocate(available, size, min_per_group)
        alloc = {g: max(prev[g], target[g]) for g in available}
        while sum(alloc.values()) > size:
            grew = [g for g in alloc if alloc[g] > prev[g]]
            g = max(grew, key=lambda g: (alloc[g] - size * available[g] / n, g))
            alloc[g] -= 1
        out.append(alloc)
        prev = alloc
    return out


def _nested_side(rows: Sequence[dict], sizes: Sequence[int], min_per_group: int, seed: int,
                 stratify_by: str | None) -> dict[int, list[str]]:
    groups, rng = _shuffled_groups(rows, seed, stratify_by)
    allocs = _nested_allocations({g: len(v) for g, v in groups.items()}, sizes, min_per_group)
    out, taken, prev = {}, [], {g: 0 for g in groups}
    for size, alloc in zip(sizes, allocs):
        added = [r["id"] for g in sorted(groups) for r in groups[g][prev[g]: alloc[g]]]
        rng.shuffle(added)  # no block of one group at the end of the list
        taken = taken + added
        out[size] = taken
        prev = alloc
    return out


def nested_subsets(rows: Sequence[dict], sizes: Sequence[int], seed: int, stratify_by: str | None = "group",
                   balance_by: str | None = None, min_per_group: int = 1
                   ) -> tuple[dict[int, list[str]], dict[int, str]]:
    """Stratified, seeded subsets of ``rows`` (ids) for every size, nested: each subset's id list starts with
    the next smaller subset's list, so a learning curve moves with data, not with resampling noise.

    -> ``(subsets, skipped)``: ``subsets[N]`` is the list of N ids for every size that fits; ``skipped[N]``
    says why a size does not fit (more rows than available), so the caller skips that cell with the reason
    instead of training on fewer rows than its name says.

    Per group the rows are taken in one seeded order (``stratified_sample``'s), so the smallest subset is
    exactly ``stratified_sample(rows, N, min_per_group, seed, stratify_by)``'s set; each larger size takes
    ``allocate``'s per-group counts, adjusted only where keeping the smaller subset demands it. With
    ``balance_by`` (a boolean meta field) ``N - N // 2`` rows come from the true side and ``N // 2`` from the
    false side, each side nested and stratified (seeds ``seed`` and ``seed + 1`` as in ``sample``).
    """
    bad = [s for s in sizes if not isinstance(s, int) or isinstance(s, bool) or s <= 0]
    if bad:
        raise ValueError(f"nested_subsets: sizes must be positive integers, got {bad}")
    counts = Counter(r["id"] for r in rows)
    if len(counts) != len(rows):
        raise ValueError(f"nested_subsets: duplicate row ids {sorted(i for i, c in counts.items() if c > 1)[:5]}")
    sizes = sorted(set(sizes))
    skipped: dict[int, str] = {}
    if balance_by is None:
        for s in sizes:
            if s > len(rows):
                skipped[s] = f"N={s} needs {s} training rows, only {len(rows)} are available"
        fit = [s for s in sizes if s not in skipped]
        return _nested_side(rows, fit, min_per_group, seed, stratify_by), skipped
    yes = [r for r in rows if r["meta"][balance_by]]
    no = [r for r in rows if not r["meta"][balance_by]]
    for s in sizes:
        need_yes, need_no = s - s // 2, s // 2
        if need_yes > len(yes) or need_no > len(no):
            skipped[s] = (f"N={s} needs {need_yes} rows with {balance_by}=true and {need_no} with "
                          f"{balance_by}=false, only {len(yes)} and {len(no)} are available")
    fit = [s for s in sizes if s not in skipped]
    yes_sets = _nested_side(yes, [s - s // 2 for s in fit], min_per_group, seed, stratify_by)
    no_sets = _nested_side(no, [s // 2 for s in fit], min_per_group, seed + 1, stratify_by)
    subsets, prev_len = {}, (0, 0)
    taken: list[str] = []
    for s in fit:
        y, n_ = yes_sets[s - s // 2], no_sets[s // 2]
        added = y[prev_len[0]:] + n_[prev_len[1]:]
        random.Random(f"{seed}:{s}").shuffle(added)
        taken = taken + added
        subsets[s] = taken
        prev_len = (len(y), len(n_))
    return subsets, skipped
