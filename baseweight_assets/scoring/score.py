"""Predictions -> the scores value (docs/ARCHITECTURE.md): headline metric, example-level CI, seeds,
secondary metrics, error counts and one per_example entry per question.

The scored sample is the union of all ``test_seeds`` question ids (each once; all test_pool questions if
there are no seeds). A sampled question without any prediction row counts as ``api_error`` (wrong),
with a note. A prediction for a question outside the test pool is an error naming the row.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from baseweight_assets.scoring import classification, code, extraction
from baseweight_assets.scoring.categories import count_categories, label_category
from baseweight_assets.scoring.parsing import LabelParser, parse_choice
from baseweight_assets.scoring.sandbox import SandboxLimits
from baseweight_assets.scoring.stats import bootstrap_ci, metric_factory

_MISSING = "no prediction row for this question"


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


def _score_labels(task, ids, gold, grouped, labels) -> tuple[list[dict], dict]:
    if task.task_type == "multiple_choice":
        letters = "".join(labels)
        parse = lambda out: parse_choice(out, letters)  # noqa: E731
    else:
        parse = LabelParser(labels)
    per_example = []
    for qid in ids:
        row = grouped[qid][0] if grouped.get(qid) else {"output": "", "error": _MISSING}
        output = row.get("output") or ""
        parsed = None if row.get("error") else parse(output)
        cat = label_category(output, row.get("error"), parsed, gold[qid])
        per_example.append({"question_id": qid, "correct": float(cat == "correct"), "category": cat,
                            "parsed": parsed, "gold": gold[qid]})
    g = [r["gold"] for r in per_example]
    p = [r["parsed"] for r in per_example]
    n = len(per_example)
    secondary = {"accuracy": classification.accuracy(g, p), "macro_f1": classification.macro_f1(g, p),
                 "weighted_f1": classification.weighted_f1(g, p),
                 "invalid_rate": sum(x is None for x in p) / n if n else None}
    return per_example, secondary


def _score_extraction(ids, gold, grouped, contexts) -> tuple[list[dict], dict, list[str]]:
    per_example, items = [], []
    for qid in ids:
        agg = extraction.aggregate_windows(grouped.get(qid) or [{"error": _MISSING}])
        golds = gold[qid]
        f1 = 0.0 if agg["error"] else extraction.token_f1(agg["answer"], golds)
        window_texts = [contexts.get(r.get("id")) for r in grouped.get(qid, [])]
        context = None if any(t is None for t in window_texts) or not window_texts else "\n".join(window_texts)
        cat = extraction.category(agg["answer"], golds, f1, context, agg["error"])
        per_example.append({"question_id": qid, "correct": f1, "category": cat,
                            "parsed": None if agg["error"] else agg["answer"], "rule": agg["rule"]})
        items.append({"answered": bool(agg["answer"]) and not agg["error"], "answerable": bool(golds), "f1": f1,
                      "confidence": agg["avg_logprob"]})
    det = extraction.detection([it["answered"] for it in items], [it["answerable"] for it in items])
    ranked, notes = extraction.ranked_metrics(items)
    n = len(per_example)
    secondary = {"token_f1": float(np.mean([r["correct"] for r in per_example])) if n else None, **det, **ranked,
                 "hallucination_rate": sum(r["category"] == "hallucinated" for r in per_example) / n if n else None,
                 "missed_rate": sum(r["category"] == "missed" for r in per_example) / n if n else None}
    if any(c is None for c in contexts.values()) or not contexts:
        notes.append("hallucinated: answers were not checked against the contract text (no context given)")
    return per_example, secondary, notes


def _score_code(ids, gold, grouped, limits, workers) -> tuple[list[dict], dict]:
    flat = [(qid, row) for qid in ids for row in (grouped.get(qid) or [{"output": "", "error": _MISSING}])]
    golds = [code.check_gold(gold[qid], f"question {qid}") for qid, _ in flat]
    statuses = code.execute_rows([row for _, row in flat], golds, limits, workers)
    samples: dict[str, list[str]] = defaultdict(list)
    for (qid, _), status in zip(flat, statuses):
        samples[qid].append(status)
    per_example = [{"question_id": q, "correct": sum(s == "pass" for s in samples[q]) / len(samples[q]),
                    "category": samples[q][0], "parsed": None} for q in ids]
    return per_example, code.pass_at_ks({q: samples[q] for q in ids})


def score_predictions(task, prepared: dict, rows: list[dict], *, labels: list[str] | None,
                      n_bootstrap: int = 1000, seed: int = 0, sandbox: SandboxLimits | None = None,
                      workers: int | None = None) -> dict:
    """Score one task x variant. See the module docstring and docs/ARCHITECTURE.md for the shapes."""
    pool = prepared["splits"]["test_pool"]
    gold = {ex["question_id"]: ex["gold"] for ex in pool}
    ids, seeds = _sample_ids(prepared)
    unknown = [q for q in ids if q not in gold]
    if unknown:
        raise ValueError(f"test_seeds name {len(unknown)} question ids missing from test_pool, e.g. {unknown[0]!r}")
    grouped = _group_rows(rows, set(gold))
    notes: list[str] = []
    missing = sum(1 for q in ids if not grouped.get(q))
    if missing:
        notes.append(f"{missing} sampled question(s) had no prediction row and count as api_error (wrong)")

    if task.task_type in ("classification", "multiple_choice"):
        labels = labels or prepared.get("labels") or task.labels
        if not labels:
            labels = sorted(set(gold.values()))
            notes.append("no label set given; parsing against the sorted gold labels of the test pool")
        per_example, secondary = _score_labels(task, ids, gold, grouped, labels)
    elif task.task_type == "extraction":
        contexts = {ex["id"]: _context_text(ex) for ex in pool}
        per_example, secondary, extra = _score_extraction(ids, gold, grouped, contexts)
        notes += extra
    elif task.task_type == "code":
        limits = sandbox or SandboxLimits.from_task(task.sandbox)
        per_example, secondary = _score_code(ids, gold, grouped, limits, workers)
    else:
        raise ValueError(f"unknown task_type {task.task_type!r}")

    factory = metric_factory(task.metric)
    index = {q: i for i, q in enumerate(ids)}
    stat = factory(per_example)
    metric = stat(np.arange(len(ids))) if ids else None
    lo, hi = bootstrap_ci(factory, per_example, n_bootstrap, seed) if ids else (None, None)
    seed_values = [stat(np.array([index[q] for q in dict.fromkeys(s)], dtype=np.int64)) for s in seeds if s]
    secondary_ci = {}
    if task.task_type in ("classification", "multiple_choice"):
        for name in ("accuracy", "macro_f1", "weighted_f1"):
            if name != task.metric and ids:
                secondary_ci[name] = list(bootstrap_ci(metric_factory(name), per_example, n_bootstrap, seed))
    secondary["ci"] = secondary_ci
    return {
        "metric_id": task.metric, "metric": _num(metric), "ci_lo": _num(lo), "ci_hi": _num(hi), "n": len(ids),
        "seed_values": [_num(v) for v in seed_values],
        "seed_mean": _num(float(np.mean(seed_values))) if seed_values else None,
        "seed_std": _num(float(np.std(seed_values, ddof=1))) if len(seed_values) > 1 else None,
        "secondary": secondary, "error_counts": count_categories(task.task_type, [r["category"] for r in per_example]),
        "per_example": per_example, "notes": notes,
    }


def _context_text(example: dict) -> str | None:
    """The window/contract text the model saw: every string among the example's prompt fields."""
    texts = [v for v in (example.get("fields") or {}).values() if isinstance(v, str)]
    return "\n".join(texts) if texts else None


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)
