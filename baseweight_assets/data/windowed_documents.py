"""Windowed documents: sampled extraction questions -> window rows (train: one window holding the gold
span; test: every window of the document; few-shot: a short context around the span). A question points into a
long document (a contract) by its ``meta["title"]``; its gold is the list of spans, with ``meta["answer_start"]``.

Targets (LoRA training rows, 5-shot demonstrations, and for reference test windows) say what the prompt
asks for and the metric scores (``scoring.extraction``): EVERY gold span of the question that the shown
text holds, one per line, in document order, each text once (``unique_spans``), copied as the shown text
spells it (whitespace collapsed); "Not found." when it holds none. A span counts as shown when all its words
are in the shown text; the anchor (the span a training or few-shot window was chosen to show) is also
kept when the window cuts it (a clause longer than a window), cut to the shown words. Spans cut by the
window edge are left out: an overlapping window shows them whole, so the union over windows finds them once.
"""

from __future__ import annotations

import random

from baseweight_assets.config.schema import WindowConfig
from baseweight_assets.data import examples
from baseweight_assets.data.contamination import find_overlaps
from baseweight_assets.data.windows import Document, covering_window, window_starts
from baseweight_assets.scoring.extraction import unique_spans

NOT_FOUND = "Not found."  # the target when the shown text holds no gold span: the abstention the prompt asks for


def find_anchor(q: dict, doc: Document) -> tuple[str, int, int] | None:
    """The first gold span found in the text, with its word range."""
    for span, start in zip(q["gold"], q["meta"]["answer_start"]):
        where = doc.locate(span, start)
        if where:
            return span, *where
    return None


def located_spans(q: dict, doc: Document) -> list[tuple[int, int]]:
    """Word ranges of the question's gold spans found in the text, in document order, each range once."""
    ranges = {doc.locate(span, start) for span, start in zip(q["gold"], q["meta"]["answer_start"])}
    return sorted(r for r in ranges if r is not None)


def target_text(doc: Document, located: list[tuple[int, int]], start: int, stop: int,
                anchor: tuple[int, int] | None = None) -> str:
    """The target for the words [start, stop) of the document (rule in the module docstring)."""
    lines = []
    for first, end in located:
        if start <= first and end <= stop:
            lines.append(doc.text(first, end))
        elif (first, end) == anchor and first < stop and end > start:
            lines.append(doc.text(max(first, start), min(end, stop)))
    lines = unique_spans(lines)
    return "\n".join(lines) if lines else NOT_FOUND


def _row(task_id: str, q: dict, context: str, target: str, window: int, n_windows: int, extra: dict | None = None) -> dict:
    fields = {**q["fields"], "context": context}
    meta = {"has_answer": q["meta"]["has_answer"], "title": q["meta"]["title"], "source_id": q["meta"]["source_id"],
            "window": window, "n_windows": n_windows, **(extra or {})}
    return examples.make(task_id, q["group"], fields, target, q["gold"], meta, content=context, question_id=q["id"])


def train_row(task_id: str, q: dict, c: Document, cfg: WindowConfig, seed: int) -> dict:
    starts = window_starts(len(c.words), cfg.size, cfg.stride)
    pick = random.Random(f"{seed}:{q['id']}").randrange(len(starts))
    anchor = find_anchor(q, c) if q["meta"]["has_answer"] else None
    if anchor is None:
        start = starts[pick]
        return _row(task_id, q, c.text(start, start + cfg.size), NOT_FOUND, starts.index(start), len(starts))
    _, first, end = anchor
    start = covering_window(starts, cfg.size, first, end, len(c.words), pick)
    target = target_text(c, located_spans(q, c), start, start + cfg.size, (first, end))
    window = starts.index(start) if start in starts else -1  # -1: snapped to the clause
    return _row(task_id, q, c.text(start, start + cfg.size), target, window, len(starts))


def few_shot_row(task_id: str, q: dict, c: Document, cfg: WindowConfig, seed: int) -> dict:
    width = cfg.few_shot_context_words
    anchor = find_anchor(q, c) if q["meta"]["has_answer"] else None
    if anchor is None:
        start = random.Random(f"{seed}:{q['id']}").randrange(max(len(c.words) - width, 1))
        return _row(task_id, q, c.text(start, start + width), NOT_FOUND, 0, 1, {"short_context": True})
    _, first, end = anchor
    pad = max(width - (end - first), 0) // 2
    start = max(first - pad, 0)
    stop = max(end + pad, start + width)
    return _row(task_id, q, c.text(start, stop), target_text(c, located_spans(q, c), start, stop, (first, end)), 0, 1,
                {"short_context": True})


def test_rows(task_id: str, q: dict, c: Document, cfg: WindowConfig, max_windows: int) -> tuple[list[dict], bool, bool]:
    """All windows of the question's document up to ``max_windows``; (rows, truncated, gold beyond cap)."""
    starts = window_starts(len(c.words), cfg.size, cfg.stride)
    kept = starts[:max_windows]
    truncated = len(starts) > len(kept)
    covered_to = kept[-1] + cfg.size
    beyond = False
    if truncated and q["meta"]["has_answer"]:
        spans = [c.locate(s, a) for s, a in zip(q["gold"], q["meta"]["answer_start"])]
        beyond = all(w is not None and w[0] >= covered_to for w in spans)
    extra = {"truncated": truncated, "gold_beyond_cap": beyond}
    located = located_spans(q, c)
    rows = [_row(task_id, q, c.text(s, s + cfg.size), target_text(c, located, s, s + cfg.size), i, len(kept), extra)
            for i, s in enumerate(kept)]
    return rows, truncated, beyond


def drop_test_overlaps(docs: dict[str, Document], test_questions: list[dict], cfg: WindowConfig,
                       splits: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], dict]:
    """(splits without the rows that (near-)duplicate any window of any test document, the hits per split):
    boilerplate shared across documents survives a document-level split."""
    titles = sorted({q["meta"]["title"] for q in test_questions})
    test = []
    for t in titles:
        d = docs[t]
        test += [(f"{t}#w{i}", d.text(s, s + cfg.size)) for i, s in enumerate(window_starts(len(d.words), cfg.size, cfg.stride))]
    out, hits_by_split = {}, {}
    for name, rows in splits.items():
        hits = find_overlaps([(r["id"], r["_content"]) for r in rows], test)
        bad = {h["id"] for h in hits}
        out[name] = [r for r in rows if r["id"] not in bad]
        if hits:
            hits_by_split[name] = hits
    return out, hits_by_split
