"""Pure validators behind the data asset checks; each returns a CheckOutcome with its numbers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.contamination import content_text as _content_text
from baseweight_assets.data.contamination import find_overlaps

MAX_LISTED = 50  # ids listed in metadata; the count is always exact


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)
    severity: Literal["ERROR", "WARN"] = "ERROR"


def check_raw_row_counts(task: TaskConfig, raw: dict) -> CheckOutcome:
    expected = task.source.offline.expected_rows if raw["source"] == "offline" and task.source.offline else {}
    counts = raw["counts"]
    if not expected:
        return CheckOutcome(True, f"{task.id}: no expected row counts for source {raw['source']!r}",
                            {"counts": counts}, "WARN")
    wrong = {s: {"expected": n, "got": counts.get(s, 0)} for s, n in expected.items() if counts.get(s, 0) != n}
    desc = (f"{task.id}: row counts match {expected}" if not wrong
            else f"{task.id}: row counts differ from expected (truncated or wrong file?): {wrong}")
    return CheckOutcome(not wrong, desc, {"counts": counts, "expected": expected, "mismatches": wrong})


def _question_groups(prepared: dict) -> dict[str, dict]:
    return {r["question_id"]: r for r in prepared["splits"]["test_pool"]}


def check_label_coverage(prepared: dict) -> CheckOutcome:
    labels = prepared.get("labels")
    splits = prepared["splits"]
    if not labels:
        groups = Counter(r["group"] for r in splits["test_pool"])
        return CheckOutcome(True, f"{prepared['task']}: open output space; {len(groups)} group(s) in the test pool",
                            {"test_groups": len(groups)}, "WARN")
    known = set(labels)
    unknown = sorted({(n, r["id"]) for n, rows in splits.items() for r in rows if r["gold"] not in known})
    train_missing = sorted(known - {r["gold"] for r in splits["train"]}) if splits["train"] else []
    test_present = {r["gold"] for r in splits["test_pool"]}
    meta = {"n_labels": len(labels), "labels_in_test": len(test_present), "labels_in_train": len(labels) - len(train_missing)
            if splits["train"] else 0, "missing_in_test": sorted(known - test_present)[:MAX_LISTED],
            "missing_in_train": train_missing[:MAX_LISTED], "unknown_gold": [i for _, i in unknown][:MAX_LISTED]}
    if unknown:
        return CheckOutcome(False, f"{prepared['task']}: {len(unknown)} row(s) have a gold label outside the label set", meta)
    if train_missing:
        return CheckOutcome(False, f"{prepared['task']}: {len(train_missing)} label(s) never seen in train", meta, "WARN")
    return CheckOutcome(True, f"{prepared['task']}: {len(test_present)}/{len(labels)} labels in the test pool, "
                        f"all gold labels in the label set", meta)


def content_text(example: dict) -> str:
    return _content_text(example["fields"])


def check_no_train_test_overlap(prepared: dict, threshold: float = 0.9) -> CheckOutcome:
    splits = prepared["splits"]
    test = [(r["id"], content_text(r)) for r in splits["test_pool"]]
    test_ids = {i for i, _ in test}
    hits, shared_ids = [], []
    for name in ("train", "val", "few_shot"):
        rows = splits.get(name, [])
        shared_ids += [r["id"] for r in rows if r["id"] in test_ids]
        for h in find_overlaps([(r["id"], content_text(r)) for r in rows], test, threshold):
            hits.append({**h, "split": name})
    offending = sorted({h["id"] for h in hits} | set(shared_ids))
    kinds = Counter(h["kind"] for h in hits)
    meta = {"n_hits": len(hits), "exact": kinds["exact"], "near": kinds["near"], "threshold": threshold,
            "offending_ids": offending[:MAX_LISTED], "hits": hits[:MAX_LISTED], "shared_ids": shared_ids[:MAX_LISTED]}
    if offending:
        return CheckOutcome(False, f"{prepared['task']}: {len(offending)} train/val/few-shot row(s) duplicate a test row "
                            f"({kinds['exact']} exact, {kinds['near']} near, Jaccard >= {threshold})", meta)
    return CheckOutcome(True, f"{prepared['task']}: no exact or near-duplicate (Jaccard >= {threshold}) overlap", meta)


def check_class_balance(prepared: dict) -> CheckOutcome:
    """Stratified seeds must have identical group allocations; balanced tasks must be 50/50."""
    by_q = _question_groups(prepared)
    seeds = prepared["test_seeds"]
    allocations = [Counter(by_q[q]["group"] for q in seed) for seed in seeds]
    same = all(a == allocations[0] for a in allocations[1:])
    train_groups = Counter(r["group"] for r in prepared["splits"]["train"])
    meta = {"seed_sizes": [len(s) for s in seeds], "seed_allocations_identical": same,
            "train_groups": len(train_groups),
            "train_group_min": min(train_groups.values(), default=0), "train_group_max": max(train_groups.values(), default=0)}
    problems = [] if same else ["test seeds have different group allocations (not stratified)"]
    balance_by = (prepared["report"].get("sampling") or {}).get("test", {}).get("balance_by")
    if balance_by and seeds:
        for k, seed in enumerate(seeds):
            yes = sum(bool(by_q[q]["meta"][balance_by]) for q in seed)
            meta[f"seed{k}_{balance_by}_true"] = yes
            if abs(2 * yes - len(seed)) > 1:
                problems.append(f"seed {k}: {yes}/{len(seed)} {balance_by}, not 50/50")
    if problems:
        return CheckOutcome(False, f"{prepared['task']}: " + "; ".join(problems), meta, "WARN")
    return CheckOutcome(True, f"{prepared['task']}: {len(seeds)} stratified seed(s), identical group allocations"
                        + (f", 50/50 by {balance_by}" if balance_by else ""), meta)
