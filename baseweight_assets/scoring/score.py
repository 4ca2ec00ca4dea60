"""Predictions -> the scores value (docs/ARCHITECTURE.md): headline metric, cluster-bootstrap CI, seeds,
secondary metrics, error counts, completeness and one per_example entry per scored question.

Sample: the union of all ``test_seeds`` question ids (each once; all test_pool questions if there are no
seeds). A prediction for a question outside the test pool is an error naming the row.

Missing (failures are not answers): a sampled question is MISSING when it has no prediction row, when any
of its rows failed (``error`` is not None, the rule of ``inference.store.answered``), or (windowed kinds:
extraction) when a window of it in test_pool has no row. An ``error`` of "" is a failure too: no writer produces it
(``inference.runner.make_row`` gets None or a formatted message, and so do the Batch API rows), and the store asks
any row whose error is not None again, so a row with "" (a hand-edited or foreign store) was never an answer.
``missing_questions`` is the one definition: the ``*_predictions_complete`` asset checks
(``inference.completeness``) and ``completeness`` apply it. A missing question gets category ``missing`` in ``error_counts``
and NO per_example entry, so it is left out of the metric, its CI, the seed values, the secondary
metrics and every paired comparison: a revoked key or an open circuit breaker yields "nothing scored",
never an accuracy of 0. ``completeness`` says how much is missing; the cell is ``complete`` when
``missing_share <= incomplete_threshold`` (configs/run_defaults.yaml ``incomplete_threshold``).

Clusters: each per_example entry has ``cluster`` = the example's ``meta[task.cluster_by]`` (CUAD: the
contract title) or, without ``cluster_by``, its question id; CIs and paired tests resample clusters
(``stats``). ``n`` is the number of scored questions, ``n_clusters`` the number of clusters among them.

Seeds: ``seed_values`` holds the metric on each eval seed's scored questions. When every seed is the
same set of questions (the test pool is no larger than the cap: MBPP, offline LEDGAR) there is one
sample, not several: ``seed_values`` has one value, ``seed_std`` is None and ``seed_note`` is
"one sample" (a spread of 0 would claim a stability nobody measured). Otherwise ``seed_note`` is None.

Everything that depends on the task's kind (parsing, per-question scores and categories, secondary metrics and
their CIs) is the kind's (``baseweight_assets.tasks``); this module applies the rules above to every kind.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from baseweight_assets.scoring.sandbox import SandboxLimits
from baseweight_assets.scoring.stats import bootstrap_ci, metric_factory
from baseweight_assets.tasks import ScoringInput, get_kind, kind_of

NO_ROW = "no prediction row for this question"
MISSING_EXAMPLES = 5
ONE_SAMPLE = "one sample"


def _sample_ids(prepared: dict) -> tuple[list[str], list[list[str]]]:
    seeds = [list(s) for s in prepared.get("test_seeds") or []]
    pool = prepared["splits"]["test_pool"]
    if not seeds:
        seeds = [list(dict.fromkeys(ex["question_id"] for ex in pool))]
    return list(dict.fromkeys(q for seed in seeds for q in seed)), seeds


def _group_rows(rows: list[dict], known: set[str]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for i, row in enumerate(rows):
        qid = row.get("question_id")
        if qid not in known:
            raise ValueError(f"prediction row {i} (id {row.get('id')!r}): question_id {qid!r} is not in test_pool")
        grouped[qid].append(row)
    return grouped


def _failure(rows: list[dict], windows: list[str] | None) -> str | None:
    """Why the question is missing, or None when every row it needs is there and succeeded."""
    if not rows:
        return NO_ROW
    failed = next((r for r in rows if r.get("error") is not None), None)
    if failed is not None:
        return failed["error"] or "request failed (empty error message)"
    if windows:
        have = {r.get("id") for r in rows}
        absent = [w for w in windows if w not in have]
        if absent:
            return f"no prediction row for window {absent[0]!r} ({len(absent)} of {len(windows)} windows)"
    return None


def _windows(pool: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for ex in pool:
        out[ex["question_id"]].append(ex["id"])
    return out


def missing_questions(task_type: str, prepared: dict, rows: list[dict]) -> dict[str, str]:
    """question_id -> why it is missing, for every sampled question that is (rule in the module docstring).

    In sample order; a windowed kind (``task_type`` "extraction") also requires a row for every window.
    """
    pool = prepared["splits"]["test_pool"]
    ids, _ = _sample_ids(prepared)
    grouped = _group_rows(rows, {ex["question_id"] for ex in pool})
    windows = _windows(pool) if get_kind(task_type).windowed else {}
    return _missing(ids, grouped, windows)


def completeness(prepared: dict, missing: dict[str, str], threshold: float) -> dict:
    """The ``completeness`` block ``score_predictions`` writes for one training seed's rows of a cell, from their
    ``missing_questions``: {"n_sampled", "n_scored", "n_missing", "missing_share", "threshold", "complete",
    "missing_examples"}."""
    ids, _ = _sample_ids(prepared)
    return _completeness(ids, missing, threshold)


def _missing(ids: list[str], grouped: dict[str, list[dict]], windows: dict[str, list[str]]) -> dict[str, str]:
    out = {}
    for q in ids:
        why = _failure(grouped.get(q, []), windows.get(q))
        if why is not None:
            out[q] = why
    return out


def _clusters(task, pool: list[dict]) -> dict[str, str]:
    key = getattr(task, "cluster_by", None)
    out: dict[str, str] = {}
    for ex in pool:
        qid = ex["question_id"]
        if key is None:
            out.setdefault(qid, qid)
            continue
        meta = ex.get("meta") or {}
        if key not in meta:
            raise ValueError(f"test_pool example {ex.get('id')!r} (question {qid!r}): meta has no {key!r}, "
                             f"the task's cluster_by field")
        out.setdefault(qid, str(meta[key]))
    return out


def _completeness(ids: list[str], missing: dict[str, str], threshold: float) -> dict:
    n_sampled, n_missing = len(ids), len(missing)
    share = n_missing / n_sampled if n_sampled else None
    return {"n_sampled": n_sampled, "n_scored": n_sampled - n_missing, "n_missing": n_missing,
            "missing_share": share, "threshold": threshold, "complete": share is not None and share <= threshold,
            "missing_examples": [{"question_id": q, "error": e} for q, e in list(missing.items())[:MISSING_EXAMPLES]]}


def _seed_stats(stat, index: dict[str, int], seeds: list[list[str]]) -> dict:
    samples = [s for s in seeds if s]
    one_sample = len({frozenset(s) for s in samples}) <= 1
    values = []
    for s in samples[:1] if one_sample else samples:
        idx = np.array([index[q] for q in dict.fromkeys(s) if q in index], dtype=np.int64)
        values.append(_num(stat(idx)) if idx.size else None)
    finite = [v for v in values if v is not None]
    return {"seed_values": values,
            "seed_mean": float(np.mean(finite)) if finite else None,
            "seed_std": float(np.std(finite, ddof=1)) if not one_sample and len(finite) > 1 else None,
            "seed_note": ONE_SAMPLE if one_sample else None}


def score_predictions(task, prepared: dict, rows: list[dict], *, labels: list[str] | None,
                      n_bootstrap: int = 1000, seed: int = 0, sandbox: SandboxLimits | None = None,
                      workers: int | None = None, incomplete_threshold: float = 0.02,
                      allow_unsandboxed: bool = False) -> dict:
    """Score one task x variant (rules in the module docstring).

    Returns {"metric_id", "metric", "ci_lo", "ci_hi", "n", "n_clusters", "seed_values", "seed_mean",
    "seed_std", "seed_note", "secondary", "error_counts", "per_example", "notes", "completeness"};
    metric and CI are None when no question was scored.
    """
    pool = prepared["splits"]["test_pool"]
    gold = {ex["question_id"]: ex["gold"] for ex in pool}
    ids, seeds = _sample_ids(prepared)
    unknown = [q for q in ids if q not in gold]
    if unknown:
        raise ValueError(f"test_seeds name {len(unknown)} question ids missing from test_pool, e.g. {unknown[0]!r}")
    grouped = _group_rows(rows, set(gold))
    windows = _windows(pool)
    kind = kind_of(task)
    missing = _missing(ids, grouped, windows if kind.windowed else {})
    scored_ids = [q for q in ids if q not in missing]
    notes: list[str] = []
    if missing:
        notes.append(f"{len(missing)} of {len(ids)} sampled question(s) are missing (no row, or a failed request): "
                     "left out of the metric, its CI and the comparisons")

    scored = kind.score(ScoringInput(task, scored_ids, gold, grouped, windows, pool,
                                     labels or prepared.get("labels") or task.labels, sandbox, workers,
                                     allow_unsandboxed))
    per_example = scored.per_example
    # a kind's metric over nothing scored is nan; "not measured" is None everywhere (and nan is not JSON)
    secondary = {k: _num(v) if isinstance(v, float) else v for k, v in scored.secondary.items()}
    notes += scored.notes
    cluster = _clusters(task, pool)
    for r in per_example:
        r["cluster"] = cluster[r["question_id"]]

    factory = metric_factory(task.metric)
    stat = factory(per_example)
    metric = stat(np.arange(len(per_example))) if per_example else None
    lo, hi = bootstrap_ci(factory, per_example, n_bootstrap, seed) if per_example else (None, None)
    secondary["ci"] = kind.secondary_cis(task, per_example, n_bootstrap, seed)
    categories = [r["category"] for r in per_example] + ["missing"] * len(missing)
    return {
        "metric_id": task.metric, "metric": _num(metric), "ci_lo": _num(lo), "ci_hi": _num(hi),
        "n": len(per_example), "n_clusters": len(set(cluster[q] for q in scored_ids)),
        **_seed_stats(stat, {q: i for i, q in enumerate(scored_ids)}, seeds),
        "secondary": secondary, "error_counts": kind.count_categories(categories),
        "per_example": per_example, "notes": notes,
        "completeness": _completeness(ids, missing, incomplete_threshold),
    }


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)
