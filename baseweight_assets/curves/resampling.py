"""Per-question score lists aligned on shared questions, and bootstrap index draws shared by all of them.

Every list in one analysis (each training seed of each LoRA cell, each API cell) is evaluated on the SAME
resampled questions, so differences between cells are paired and points of a curve move together.
Without clusters a draw is ``rng.integers(0, n, size=n)`` from ``np.random.default_rng(seed)``, the same
draws as ``scoring.stats`` makes. When rows carry ``cluster`` (questions that share context, e.g. CUAD's
contract), whole clusters are resampled with replacement and a draw is the concatenation of their rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Aligned:
    """``rows[name]`` in ``question_ids`` order; ``clusters`` = row indices of each cluster, or None."""

    question_ids: list[str]
    rows: dict[str, list[dict]]
    clusters: list[np.ndarray] | None
    n_dropped: dict[str, int]  # rows of each list whose question is not shared by every list


def _by_question(name: str, rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for i, row in enumerate(rows):
        qid = row.get("question_id")
        if qid is None:
            raise ValueError(f"{name}: per_example row {i} has no question_id")
        if qid in out:
            raise ValueError(f"{name}: question_id {qid!r} appears twice (rows must be one per question)")
        out[qid] = row
    return out


def _clusters(question_ids: list[str], indexed: dict[str, dict[str, dict]]) -> list[np.ndarray] | None:
    labels: list = []
    for qid in question_ids:
        seen = {(name, by_q[qid].get("cluster")) for name, by_q in indexed.items()}
        values = {c for _, c in seen if c is not None}
        if len(values) > 1:
            raise ValueError(f"question {qid!r}: lists disagree on its cluster ({sorted(map(str, values))})")
        labels.append(next(iter(values)) if values else None)
    if all(c is None for c in labels):
        return None
    missing = [q for q, c in zip(question_ids, labels) if c is None]
    if missing:
        raise ValueError(f"questions {missing[:5]} have no cluster while others do; give every row a cluster")
    members: dict = {}
    for i, c in enumerate(labels):
        members.setdefault(c, []).append(i)
    return [np.asarray(members[c]) for c in sorted(members, key=str)]


def align_questions(lists: Mapping[str, list[dict]]) -> Aligned:
    """Restrict every list to the questions all of them answered (sorted ids); errors name the list."""
    if not lists:
        raise ValueError("align_questions: no lists given")
    indexed = {name: _by_question(name, rows) for name, rows in lists.items()}
    shared = set.intersection(*(set(by_q) for by_q in indexed.values()))
    if not shared:
        raise ValueError(f"no question is shared by every list ({', '.join(lists)})")
    ids = sorted(shared)
    return Aligned(question_ids=ids, rows={name: [by_q[q] for q in ids] for name, by_q in indexed.items()},
                   clusters=_clusters(ids, indexed),
                   n_dropped={name: len(by_q) - len(ids) for name, by_q in indexed.items()})


def index_draws(n: int, clusters: list[np.ndarray] | None, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """``n_resamples`` arrays of row indices: questions (or whole clusters) drawn with replacement."""
    rng = np.random.default_rng(seed)
    for _ in range(n_resamples):
        if clusters is None:
            yield rng.integers(0, n, size=n)
        else:
            picked = rng.integers(0, len(clusters), size=len(clusters))
            yield np.concatenate([clusters[c] for c in picked])
