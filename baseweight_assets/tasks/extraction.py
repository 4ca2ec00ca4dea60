"""Extraction over windowed documents: copy every span of a category from a long document, or abstain.

Canonical rows: split ``documents`` ``[{"title", "text"}]`` and question splits ``[{"id", "title" (its document),
"question", "group", "fields": {extra template variables}, "answers": {"text": [gold spans], "answer_start": [char
offset or -1], "located": ["verbatim"|"normalised"|"missing"]}}]``. A question example has fields ``{**fields,
"question"}``, gold = the span list ([] = absent), meta ``has_answer``/``title``/``source_id``/``answer_start``/
``located``, and the id ``content_id(task, {question id, gold})``.

Preparation (``data.windowed_documents``): training pools lose questions whose gold cannot be located in their
document (no window provably holds it); drawn questions become window rows (train: one window holding the gold;
few-shot: a short context around it; test: every window of the document, at most ``windows.max_windows``, 2 on a
capped smoke run) and train/val/few-shot windows that (near-)duplicate a window of a test document are dropped.
Scoring (``scoring.extraction``): a question's windows are answered by the union of their spans; headline
multi-span F1, SQuAD F1 secondary with a CI, detection and ranking metrics, the extraction categories. Decoding
is free text.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from baseweight_assets.data.errors import DataError
from baseweight_assets.data.examples import make
from baseweight_assets.data.ids import content_id
from baseweight_assets.data.windowed_documents import (
    NOT_FOUND, drop_test_overlaps, few_shot_row, find_anchor, test_rows, train_row,
)
from baseweight_assets.data.windows import Document, window_starts
from baseweight_assets.scoring import extraction
from baseweight_assets.scoring.categories import EXTRACTION
from baseweight_assets.scoring.parsing import split_spans
from baseweight_assets.scoring.stats import bootstrap_ci, mean_of
from baseweight_assets.tasks.kind import Drawn, KindScores, ScoringInput, TaskKind

DOCUMENTS = "documents"  # the raw split holding the documents
SMOKE_MAX_WINDOWS = 2  # a capped (smoke) run is on CPU: 12 questions x 12 windows of 750 words is too slow


class ExtractionKind(TaskKind):
    name = "extraction"
    categories = EXTRACTION
    metrics = ("multi_span_f1", "token_f1")
    windowed = True

    def example(self, task_id: str, row: dict, labels: list[str] | None) -> dict:
        spans = row["answers"]["text"]
        meta = {"has_answer": bool(spans), "title": row["title"], "source_id": row["id"],
                "answer_start": row["answers"]["answer_start"], "located": row["answers"]["located"]}
        fields = {**(row.get("fields") or {}), "question": row["question"]}
        ex = make(task_id, row["group"], fields, NOT_FOUND, spans, meta)
        ex["id"] = ex["question_id"] = content_id(task_id, {"question": row["id"], "gold": spans})
        return ex

    def documents(self, task, raw) -> dict[str, Document]:
        if DOCUMENTS not in raw["splits"]:
            raise DataError(f"task {task.id!r}: extraction needs a raw split {DOCUMENTS!r} of {{title, text}} rows "
                            f"(has {sorted(raw['splits'])})")
        return {d["title"]: Document(d["title"], d["text"]) for d in raw["splits"][DOCUMENTS]}

    def refine_pools(self, task, pools, documents, report):
        for rows in pools.values():
            for q in rows:
                if q["meta"]["title"] not in documents:
                    raise DataError(f"task {task.id!r}: question {q['meta']['source_id']!r} points to document "
                                    f"{q['meta']['title']!r}, which is not in the {DOCUMENTS!r} split")
        unlocated = 0
        for name in [n for n in pools if n != "test"]:
            kept = []
            for q in pools[name]:
                if q["meta"]["has_answer"] and find_anchor(q, documents[q["meta"]["title"]]) is None:
                    unlocated += 1  # no training window can be shown to hold the span
                    continue
                kept.append(q)
            pools[name] = kept
        report["train_questions_dropped_unlocated_gold"] = unlocated
        return pools

    def rows(self, task, drawn: Drawn, documents, *, test_pool, rows_per_split, report) -> Drawn:
        cfg, seed = task.windows, task.sampling.seed
        max_windows = cfg.max_windows if rows_per_split is None else min(cfg.max_windows, SMOKE_MAX_WINDOWS)

        def doc(q: dict) -> Document:
            return documents[q["meta"]["title"]]

        shown = {"train": [train_row(task.id, q, doc(q), cfg, seed) for q in drawn.train],
                 "val": [train_row(task.id, q, doc(q), cfg, seed) for q in drawn.val],
                 "few_shot": [few_shot_row(task.id, q, doc(q), cfg, seed) for q in drawn.few_shot]}
        shown, report["contamination_removed"] = drop_test_overlaps(documents, test_pool, cfg, shown)
        test, truncated, beyond = [], set(), []
        for q in drawn.test:
            rows, cut, lost = test_rows(task.id, q, doc(q), cfg, max_windows)
            test += rows
            if cut:
                truncated.add(q["meta"]["title"])
            if lost:
                beyond.append(q["id"])
        report["windows"] = {
            "unit": cfg.unit, "size": cfg.size, "stride": cfg.stride, "max_windows": max_windows,
            "test_rows": len(test), "test_questions": len(drawn.test),
            "documents_over_cap": len(truncated), "documents_over_cap_titles": sorted(truncated),
            "questions_with_gold_beyond_cap": beyond,
            "documents_over_cap_in_corpus": sum(len(window_starts(len(d.words), cfg.size, cfg.stride)) > cfg.max_windows
                                                for d in documents.values()),
        }
        return Drawn(shown["train"], shown["val"], shown["few_shot"], test)

    def parser(self, labels):
        return split_spans

    def score(self, given: ScoringInput) -> KindScores:
        contexts = {ex["id"]: _context_text(ex) for ex in given.pool}
        per_example, items = [], []
        for qid in given.ids:
            order = {w: i for i, w in enumerate(given.windows[qid])}
            rows = sorted(given.rows[qid], key=lambda r: order.get(r.get("id"), len(order)))
            agg = extraction.aggregate_windows(rows)
            golds = given.gold[qid]
            f1, squad = extraction.question_scores(agg, golds)
            texts = [contexts.get(w) for w in given.windows[qid]]
            cat = extraction.category(agg, golds, f1, None if any(t is None for t in texts) else texts)
            per_example.append({"question_id": qid, "correct": f1, "category": cat, "parsed": "\n".join(agg["spans"]),
                                "squad_f1": squad, "n_spans": len(agg["spans"]),
                                "n_gold": len(golds), "rule": agg["rule"]})
            items.append({"answered": bool(agg["spans"]), "answerable": bool(golds), "f1": f1,
                          "confidence": agg["avg_logprob"]})
        det = extraction.detection([it["answered"] for it in items], [it["answerable"] for it in items])
        ranked, notes = extraction.ranked_metrics(items)
        n = len(per_example)

        def rate(name: str) -> float | None:
            return sum(r["category"] == name for r in per_example) / n if n else None

        secondary = {"squad_f1": float(np.mean([r["squad_f1"] for r in per_example])) if n else None, **det, **ranked,
                     "hallucination_rate": rate("hallucinated"), "missed_rate": rate("missed"),
                     "empty_rate": rate("empty")}
        if not contexts or any(c is None for c in contexts.values()):
            notes.append("hallucinated: answers were not checked against the contract text (no context given)")
        return KindScores(per_example, secondary, notes)

    def secondary_cis(self, task, per_example, n_bootstrap, seed):
        if not per_example:
            return {}
        return {"squad_f1": list(bootstrap_ci(mean_of("squad_f1"), per_example, n_bootstrap, seed))}

    def gold_from_record(self, record: dict, where: str) -> list[str]:
        gold = record["gold"]
        if not isinstance(gold, list) or not all(isinstance(s, str) for s in gold):
            raise ValueError(f"{where}: 'gold' must be a list of gold spans ([] when the clause is absent)")
        return gold

    def config_errors(self, task):
        errors = super().config_errors(task)
        if task.windows is None:
            errors.append(("windows", "required for task_type 'extraction' (how documents are cut into windows)"))
        return errors


def _context_text(example: dict) -> str | None:
    """The window text the model saw: the example's ``context`` prompt field (None when it has none)."""
    text = (example.get("fields") or {}).get("context")
    return text if isinstance(text, str) else None
