"""Closed-label metrics: accuracy, macro F1 and weighted F1, over the gold label set of the sample.

F1 is computed from integer-coded arrays with ``np.bincount`` rather than by calling
``sklearn.metrics.f1_score``: the bootstrap evaluates it >= 1,000 times per cell, and sklearn's input
validation costs milliseconds per call. Tests pin it to ``f1_score(y, p, labels=sorted(set(y)),
average=..., zero_division=0)``. Invalid outputs (None) and predicted labels absent from the gold set
of the sample are wrong and join no class's average.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def encode(gold: Sequence[str], pred: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes 0..k-1 for the sorted gold labels; any other prediction gets code k."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    classes = sorted(set(gold))
    code = {label: i for i, label in enumerate(classes)}
    k = len(classes)
    g = np.fromiter((code[x] for x in gold), dtype=np.int64, count=len(gold))
    p = np.fromiter((code.get(x, k) if x is not None else k for x in pred), dtype=np.int64, count=len(pred))
    return g, p, k


def _per_class(g: np.ndarray, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    support = np.bincount(g, minlength=k + 1)[:k]
    predicted = np.bincount(p, minlength=k + 1)[:k]
    tp = np.bincount(g[g == p], minlength=k + 1)[:k]
    denom = support + predicted
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(k), where=denom > 0)
    return f1, support


def f1_from_codes(g: np.ndarray, p: np.ndarray, k: int, average: str) -> float:
    """Macro or weighted F1 over the classes present in ``g`` (the sample's gold label set)."""
    if g.size == 0:
        return float("nan")
    f1, support = _per_class(g, p, k)
    present = support > 0
    if average == "macro":
        return float(f1[present].mean())
    if average == "weighted":
        return float((f1 * support).sum() / support.sum())
    raise ValueError(f"average must be 'macro' or 'weighted', got {average!r}")


def macro_f1(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    return f1_from_codes(*encode(gold, pred), average="macro")


def weighted_f1(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    return f1_from_codes(*encode(gold, pred), average="weighted")


def accuracy(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    if not gold:
        return float("nan")
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)


def f1_metric(average: str) -> Callable[[list[dict]], Callable[[np.ndarray], float]]:
    """A metric factory for ``stats``: per_example rows (``gold``, ``parsed``) -> statistic on indices."""

    def factory(per_example: list[dict]) -> Callable[[np.ndarray], float]:
        g, p, k = encode([r["gold"] for r in per_example], [r["parsed"] for r in per_example])
        return lambda idx: f1_from_codes(g[idx], p[idx], k, average)

    return factory
