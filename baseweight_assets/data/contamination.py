"""Train/val/few-shot vs test contamination: exact (normalised text) and near-duplicate
(word-3-shingle Jaccard >= threshold), found exactly with a length filter and prefix filtering
(the AllPairs rule: two sets with Jaccard >= t share a token among the first |S| - ceil(t|S|) + 1
of each, under one global token order), so no MinHash approximation and no quadratic scan.
Shingles are int64 codes of three word ids, computed with numpy.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from baseweight_assets.data.ids import normalise


class _Shingler:
    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.cache: dict[str, np.ndarray] = {}  # identical texts (CUAD windows) are shingled once

    def __call__(self, text: str) -> np.ndarray:
        if text not in self.cache:
            vocab = self.vocab
            ids = np.array([vocab.setdefault(w, len(vocab)) for w in normalise(text).split()], dtype=np.int64)
            if len(ids) < 3:  # too short for a shingle: the whole text is one token
                ids = np.concatenate([ids, np.full(3 - len(ids), -1, dtype=np.int64)]) + 1
            codes = (ids[:-2] << 42) | (ids[1:-1] << 21) | ids[2:]
            self.cache[text] = np.unique(codes)
        return self.cache[text]


def find_overlaps(queries: list[tuple[str, str]], targets: list[tuple[str, str]], threshold: float = 0.9) -> list[dict]:
    """Every (query id, target id) pair whose texts are equal after normalising or whose shingle
    Jaccard is >= threshold: ``[{"id", "test_id", "kind": "exact"|"near", "jaccard"}]``."""
    hits = []
    exact = defaultdict(list)
    for tid, text in targets:
        exact[normalise(text)].append(tid)
    shingle = _Shingler()
    target_sets = [(tid, shingle(text)) for tid, text in targets]
    distinct = list({id(s): s for _, s in target_sets}.values())
    if distinct:
        vocab_tokens, counts = np.unique(np.concatenate(distinct), return_counts=True)
    else:
        vocab_tokens, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)

    def prefix(s: np.ndarray) -> np.ndarray:
        p = len(s) - math.ceil(threshold * len(s)) + 1
        pos = np.searchsorted(vocab_tokens, s).clip(max=max(len(vocab_tokens) - 1, 0))
        freq = np.where(vocab_tokens[pos] == s, counts[pos], 0) if len(vocab_tokens) else np.zeros(len(s))
        return s[np.lexsort((s, freq))[:p]]

    index = defaultdict(list)
    prefixes: dict[int, np.ndarray] = {}
    for j, (_, s) in enumerate(target_sets):
        if id(s) not in prefixes:
            prefixes[id(s)] = prefix(s)
        for tok in prefixes[id(s)].tolist():
            index[tok].append(j)
    for qid, text in queries:
        exact_ids = exact.get(normalise(text), [])
        for tid in exact_ids:
            hits.append({"id": qid, "test_id": tid, "kind": "exact", "jaccard": 1.0})
        a = shingle(text)
        candidates = {j for tok in prefix(a).tolist() for j in index.get(tok, ())}
        for j in sorted(candidates):
            tid, b = target_sets[j]
            if tid in exact_ids or not threshold * len(b) <= len(a) <= len(b) / threshold:
                continue
            inter = len(np.intersect1d(a, b, assume_unique=True))
            jac = inter / (len(a) + len(b) - inter)
            if jac >= threshold:
                hits.append({"id": qid, "test_id": tid, "kind": "near", "jaccard": round(jac, 4)})
    return hits


def content_text(fields: dict) -> str:
    """The text compared for contamination: the context for windowed tasks, else the input fields."""
    if "context" in fields:
        return fields["context"]
    parts = []
    for _, value in sorted(fields.items()):
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            parts.extend(str(v) for v in value.values())
    return " ".join(parts)


def drop_test_overlaps(pools: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Remove from the train, val and few_shot pools (in place) every row that duplicates or near-duplicates a test
    row; returns the hits per pool (``find_overlaps``' records)."""
    test = [(r["id"], r["_content"]) for r in pools["test"]]
    removed = {}
    for name in ("train", "val", "few_shot"):
        if not pools.get(name):
            continue
        hits = find_overlaps([(r["id"], r["_content"]) for r in pools[name]], test)
        bad = {h["id"] for h in hits}
        if bad:
            pools[name] = [r for r in pools[name] if r["id"] not in bad]
            removed[name] = hits
    return removed
