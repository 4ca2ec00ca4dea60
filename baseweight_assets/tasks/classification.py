"""Classification: one closed label per input text.

Canonical row: ``{"text": str, "label": int}`` (index into the task's label names). Example: fields ``{"text"}``,
group, target and gold = the label name. Decoding may be constrained to the label names. An output is parsed by
``scoring.parsing.LabelParser`` and categorised by ``scoring.categories.label_category``; secondary metrics are
accuracy, macro F1 and weighted F1 (with a CI for each one that is not the headline) and the invalid rate.
"""

from __future__ import annotations

from collections.abc import Callable

from baseweight_assets.data.errors import DataError
from baseweight_assets.data.examples import make
from baseweight_assets.scoring import classification
from baseweight_assets.scoring.categories import CLASSIFICATION, label_category
from baseweight_assets.scoring.parsing import LabelParser
from baseweight_assets.scoring.stats import bootstrap_ci, metric_factory
from baseweight_assets.tasks.kind import KindScores, ScoringInput, TaskKind

LABEL_METRICS = ("accuracy", "macro_f1", "weighted_f1")


class ClassificationKind(TaskKind):
    name = "classification"
    categories = CLASSIFICATION
    metrics = LABEL_METRICS
    uses_labels = True

    def example(self, task_id: str, row: dict, labels: list[str] | None) -> dict:
        if not labels:
            raise DataError(f"task {task_id!r}: classification rows need the label names (config 'labels' or the source's)")
        name = labels[row["label"]]
        return make(task_id, name, {"text": row["text"]}, name, name)

    def allowed_outputs(self, task, labels):
        return list(labels) if labels else None

    def parser(self, labels: list[str] | None) -> Callable[[str], str | None]:
        return LabelParser(labels or [])

    def score(self, given: ScoringInput) -> KindScores:
        labels, notes = given.labels, []
        if not labels:
            labels = sorted(set(given.gold.values()))
            notes.append("no label set given; parsing against the sorted gold labels of the test pool")
        parse = self.parser(labels)
        per_example = []
        for qid in given.ids:
            row = given.rows[qid][0]
            output = row.get("output") or ""
            parsed = parse(output)
            gold = given.gold[qid]
            cat = label_category(output, None, parsed, gold, row.get("finish_reason"))
            per_example.append({"question_id": qid, "correct": float(cat == "correct"), "category": cat,
                                "parsed": parsed, "gold": gold})
        g = [r["gold"] for r in per_example]
        p = [r["parsed"] for r in per_example]
        n = len(per_example)
        secondary = {"accuracy": classification.accuracy(g, p), "macro_f1": classification.macro_f1(g, p),
                     "weighted_f1": classification.weighted_f1(g, p),
                     "invalid_rate": sum(x is None for x in p) / n if n else None}
        return KindScores(per_example, secondary, notes)

    def secondary_cis(self, task, per_example, n_bootstrap, seed):
        if not per_example:
            return {}
        return {name: list(bootstrap_ci(metric_factory(name), per_example, n_bootstrap, seed))
                for name in LABEL_METRICS if name != task.metric}

    def gold_from_record(self, record: dict, where: str) -> str:
        if not isinstance(record["gold"], str):
            raise ValueError(f"{where}: 'gold' must be a label string")
        return record["gold"]
