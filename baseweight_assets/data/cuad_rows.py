"""CUAD preparation steps: the seeded contract-level split and turning sampled questions into
window rows (train: one window holding the gold clause; test: every window of the contract;
few-shot: a short context around the clause).

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

from baseweight_assets.config.schema import TaskConfig, WindowConfig
from baseweight_assets.data import examples
from baseweight_assets.data.windows import Contract, covering_window, window_starts
from baseweight_assets.scoring.extraction import unique_spans


def contract_split(task: TaskConfig, raw: dict, questions: list[dict]) -> tuple[dict, dict, dict]:
    """(contracts by title, {"train": [...], "test": [...]} question pools, report)."""
    contracts = {c["title"]: Contract(c["title"], c["text"]) for c in raw["splits"]["contracts"]}
    titles = sorted(contracts)
    random.Random(task.sampling.seed).shuffle(titles)
    frac = float(task.source.offline.options.get("test_contract_fraction", 0.2)) if task.source.offline else 0.2
    n_test = round(frac * len(titles))
    test_titles, train_titles = set(titles[:n_test]), set(titles[n_test:])
    pools = {"train": [], "test": []}
    unlocated = 0
    for q in questions:
        title = q["meta"]["title"]
        if title in test_titles:
            pools["test"].append(q)
        elif title in train_titles:
            if q["meta"]["has_answer"] and _anchor(q, contracts[title]) is None:
                unlocated += 1  # cannot build a training window that provably holds the clause
                continue
            pools["train"].append(q)
    report = {
        "contract_split": {"train": len(train_titles), "test": len(test_titles), "seed": task.sampling.seed,
                           "rule": f"seeded shuffle of contract titles, {frac:.0%} to test"},
        "train_questions_dropped_unlocated_gold": unlocated,
    }
    return contracts, pools, report


def _anchor(q: dict, contract: Contract) -> tuple[str, int, int] | None:
    """The first gold span found in the text, with its word range."""
    for span, start in zip(q["gold"], q["meta"]["answer_start"]):
        where = contract.locate(span, start)
        if where:
            return span, *where
    return None


def located_spans(q: dict, contract: Contract) -> list[tuple[int, int]]:
    """Word ranges of the question's gold spans found in the text, in document order, each range once."""
    ranges = {contract.locate(span, start) for span, start in zip(q["gold"], q["meta"]["answer_start"])}
    return sorted(r for r in ranges if r is not None)


def target_text(contract: Contract, located: list[tuple[int, int]], start: int, stop: int,
                anchor: tuple[int, int] | None = None) -> str:
    """The target for the words [start, stop) of the contract (rule in the module docstring)."""
    lines = []
    for first, end in located:
        if start <= first and end <= stop:
            lines.append(contract.text(first, end))
        elif (first, end) == anchor and first < stop and end > start:
            lines.append(contract.text(max(first, start), min(end, stop)))
    lines = unique_spans(lines)
    return "\n".join(lines) if lines else examples.NOT_FOUND


def _row(task_id: str, q: dict, context: str, target: str, window: int, n_windows: int, extra: dict | None = None) -> dict:
    fields = {**q["fields"], "context": context}
    meta = {"has_answer": q["meta"]["has_answer"], "title": q["meta"]["title"], "source_id": q["meta"]["source_id"],
            "window": window, "n_windows": n_windows, **(extra or {})}
    return examples.make(task_id, q["group"], fields, target, q["gold"], meta, content=context, question_id=q["id"])


def train_row(task_id: str, q: dict, c: Contract, cfg: WindowConfig, seed: int) -> dict:
    starts = window_starts(len(c.words), cfg.size, cfg.stride)
    pick = random.Random(f"{seed}:{q['id']}").randrange(len(starts))
    anchor = _anchor(q, c) if q["meta"]["has_answer"] else None
    if anchor is None:
        start = starts[pick]
        return _row(task_id, q, c.text(start, start + cfg.size), examples.NOT_FOUND, starts.index(start), len(starts))
    _, first, end = anchor
    start = covering_window(starts, cfg.size, first, end, len(c.words), pick)
    target = target_text(c, located_spans(q, c), start, start + cfg.size, (first, end))
    window = starts.index(start) if start in starts else -1  # -1: snapped to the clause
    return _row(task_id, q, c.text(start, start + cfg.size), target, window, len(starts))


def few_shot_row(task_id: str, q: dict, c: Contract, cfg: WindowConfig, seed: int) -> dict:
    width = cfg.few_shot_context_words
    anchor = _anchor(q, c) if q["meta"]["has_answer"] else None
    if anchor is None:
        start = random.Random(f"{seed}:{q['id']}").randrange(max(len(c.words) - width, 1))
        return _row(task_id, q, c.text(start, start + width), examples.NOT_FOUND, 0, 1, {"short_context": True})
    _, first, end = anchor
    pad = max(width - (end - first), 0) // 2
    start = max(first - pad, 0)
    stop = max(end + pad, start + width)
    return _row(task_id, q, c.text(start, stop), target_text(c, located_spans(q, c), start, stop, (first, end)), 0, 1,
                {"short_context": True})


def test_rows(task_id: str, q: dict, c: Contract, cfg: WindowConfig, max_windows: int) -> tuple[list[dict], bool, bool]:
    """All windows of the question's contract up to ``max_windows``; (rows, truncated, gold beyond cap)."""
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
