"""Raw splits -> the pools of examples (train, test, optionally val and few_shot) before sampling.

The rule is configuration: ``keep_rows`` and ``pools`` of the source the rows came from (``config.schema.PoolRule``
says what each rule does). Every raw split a pool draws from is first filtered by ``keep_rows`` (on the canonical
raw rows), then turned into examples by the task's kind; the rules then run in the order they are listed. The
report says what each rule took and what was dropped. Deterministic: the same rows and seed give the same pools.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from baseweight_assets.config.schema import PoolRule, TaskConfig
from baseweight_assets.data.errors import DataError
from baseweight_assets.data.ids import normalise
from baseweight_assets.data.sampling import split_off

Example = dict


def carve_count(fraction: float, available: int) -> int:
    """``max(1, floor(fraction x available))``: a carved pool is never empty while rows are left."""
    return max(1, math.floor(fraction * available + 1e-9))  # 0.2 x 510 must give 102, not 101.99...


def carve_units(rows: list[Example], by: str, fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(rows of the carved units, the rest), both in input order: units are the distinct ``meta[by]`` values, taken in
    a seeded shuffle of their sorted names."""
    for r in rows:
        if by not in r["meta"]:
            raise DataError(f"example {r['id']!r}: meta has no {by!r}, the field its pool rule carves by")
    units = sorted({str(r["meta"][by]) for r in rows})
    random.Random(seed).shuffle(units)
    chosen = set(units[:carve_count(fraction, len(units))]) if units else set()
    taken = [r for r in rows if str(r["meta"][by]) in chosen]
    return taken, [r for r in rows if str(r["meta"][by]) not in chosen]


def _describe(rule: PoolRule) -> str:
    if rule.by:
        return f"seeded {rule.fraction:.0%} of the {rule.by!r} units of {rule.split!r}"
    if rule.carves:
        amount = f"{rule.size} rows" if rule.size else f"{rule.fraction:.0%}"
        strata = f"stratified by {rule.stratify_by}" if rule.stratify_by else "uniform"
        return f"seeded {amount} of {rule.split!r}, {strata}"
    return f"the rest of {rule.split!r}"


def _kept(rows: list[dict], keep: dict) -> list[dict]:
    return [r for r in rows if all(r.get(name) == value for name, value in keep.items())]


def build_pools(task: TaskConfig, raw: dict, example: Callable[[dict], Example]) -> tuple[dict[str, list[Example]], dict]:
    """``({pool: [Example]}, report)`` for the source ``raw`` came from; ``train`` is always present (maybe empty)."""
    source = task.source.of(raw["source"])
    rules = source.pools
    missing = sorted({r.split for r in rules.values()} - set(raw["splits"]))
    if missing:
        raise DataError(f"task {task.id!r}: its pools draw from raw split(s) {missing}, the {raw['source']} data has "
                        f"{sorted(raw['splits'])}")
    seed = task.sampling.seed
    report: dict = {"pool_rules": {}}
    left: dict[str, list[Example]] = {}
    for split in dict.fromkeys(r.split for r in rules.values()):
        rows = raw["splits"][split]
        kept = _kept(rows, source.keep_rows)
        if len(kept) != len(rows):
            rule = ", ".join(f"{k} == {v!r}" for k, v in source.keep_rows.items())
            report.setdefault("dropped_rows", {})[split] = {"rule": f"keep rows where {rule}", "n": len(rows) - len(kept)}
        left[split] = [example(r) for r in kept]
    pools: dict[str, list[Example]] = {}
    for name, rule in rules.items():
        rows = left[rule.split]
        if rule.by:
            taken, rest = carve_units(rows, rule.by, rule.fraction, seed)
        elif rule.carves:
            n = rule.size if rule.size is not None else carve_count(rule.fraction, len(rows))
            taken, rest = split_off(rows, n, rule.min_per_group, seed, rule.stratify_by)
        else:
            taken, rest = rows, []
        left[rule.split] = rest
        for field, least in rule.min_meta.items():
            kept = [r for r in taken if r["meta"][field] >= least]
            if len(kept) != len(taken):
                report.setdefault("dropped_rows", {})[name] = {"rule": f"keep rows where {field} >= {least:g}",
                                                               "n": len(taken) - len(kept)}
            taken = kept
        pools[name] = taken
        report["pool_rules"][name] = f"{_describe(rule)}: {len(taken)} rows"
    pools.setdefault("train", [])
    return pools, report


def dedupe(rows: list[Example]) -> tuple[list[Example], list[str]]:
    """Drop exact duplicates (normalised content and same gold), keeping the first; (kept, dropped ids)."""
    seen, out, dropped = set(), [], []
    for r in rows:
        key = (normalise(r["_content"]), repr(r["gold"]))
        if key in seen:
            dropped.append(r["id"])
            continue
        seen.add(key)
        out.append(r)
    return out, dropped
