"""Per-question score lists aligned on shared questions, and bootstrap index draws shared by all of them.

Every list in one analysis (each training seed of each LoRA cell, each API cell) is evaluated on the SAME
resampled questions, so differences between cells are paired and points of a curve move together. Draws
come from ``scoring.stats.ClusterSampler`` with ``np.random.default_rng(seed)``, the draws ``scoring.stats``
makes: whole clusters when rows carry ``cluster`` (questions that share context, e.g. CUAD's contract),
else one question per cluster. Entries ``scoring.stats.scored`` does not count are left out first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from baseweight_assets.scoring.stats import ClusterSampler, scored


@dataclass(frozen=True)
class Aligned:
    """``rows[name]`` in ``question_ids`` order, and the sampler that draws row indices for all of them."""

    question_ids: list[str]
    rows: dict[str, list[dict]]
    sampler: ClusterSampler
    n_clusters: int  # resampling units: clusters, or questions when rows carry no cluster
    n_dropped: dict[str, int]  # entries of each list whose question is not shared by every list


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


def _cluster_labels(question_ids: list[str], indexed: dict[str, dict[str, dict]]) -> list | None:
    labels: list = []
    for qid in question_ids:
        values = {by_q[qid]["cluster"] for by_q in indexed.values() if by_q[qid].get("cluster") is not None}
        if len(values) > 1:
            raise ValueError(f"question {qid!r}: lists disagree on its cluster ({sorted(map(str, values))})")
        labels.append(next(iter(values)) if values else None)
    if all(c is None for c in labels):
        return None
    missing = [q for q, c in zip(question_ids, labels) if c is None]
    if missing:
        raise ValueError(f"questions {missing[:5]} have no cluster while others do; give every row a cluster")
    return labels


def align_questions(lists: Mapping[str, list[dict]]) -> Aligned:
    """Restrict every list to the questions all of them answered (sorted ids); errors name the list."""
    if not lists:
        raise ValueError("align_questions: no lists given")
    indexed = {name: _by_question(name, scored(rows)) for name, rows in lists.items()}
    shared = set.intersection(*(set(by_q) for by_q in indexed.values()))
    if not shared:
        raise ValueError(f"no question is shared by every list ({', '.join(lists)})")
    ids = sorted(shared)
    labels = _cluster_labels(ids, indexed)
    sampler = ClusterSampler([{"question_id": q, "cluster": q if labels is None else labels[i]}
                              for i, q in enumerate(ids)])
    return Aligned(question_ids=ids, rows={name: [by_q[q] for q in ids] for name, by_q in indexed.items()},
                   sampler=sampler, n_clusters=sampler.n_clusters,
                   n_dropped={name: len(rows) - len(ids) for name, rows in lists.items()})


def index_draws(sampler: ClusterSampler, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """``n_resamples`` arrays of row indices: clusters (or questions) drawn with replacement."""
    rng = np.random.default_rng(seed)
    for _ in range(n_resamples):
        yield sampler.draw(rng)
