"""Per-source split rules: raw splits -> pools of Examples ``train``, ``test`` and optionally
``val`` and ``few_shot`` (pools before sampling), plus what was dropped and why."""

from __future__ import annotations

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data import examples
from baseweight_assets.data.errors import DataError
from baseweight_assets.data.ids import normalise
from baseweight_assets.data.sampling import split_off


def _dedupe(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Drop exact duplicates (normalised content and same gold), keeping the first."""
    seen, out, dropped = set(), [], []
    for r in rows:
        key = (normalise(r["_content"]), repr(r["gold"]))
        if key in seen:
            dropped.append(r["id"])
            continue
        seen.add(key)
        out.append(r)
    return out, dropped


def _need(raw: dict, *names: str) -> list[list[dict]]:
    missing = [n for n in names if n not in raw["splits"]]
    if missing:
        raise DataError(f"task {raw['task']!r}: raw data has no split(s) {missing} (has {sorted(raw['splits'])})")
    return [raw["splits"][n] for n in names]


def build_pools(task: TaskConfig, raw: dict) -> tuple[dict[str, list[dict]], dict]:
    loader = raw["provenance"].get("loader")
    offline = raw["source"] == "offline"
    opts = task.source.offline.options if task.source.offline else {}
    seed = task.sampling.seed
    labels = raw.get("labels")
    report: dict = {}
    pools: dict[str, list[dict]] = {}
    if task.task_type == "extraction":
        (questions,) = _need(raw, "questions")
        return {"questions": [examples.cuad_question(task.id, q) for q in questions]}, report
    if task.task_type == "code":
        for ours, theirs in (("few_shot", "prompt"), ("test", "test"), ("val", "validation"), ("train", "train")):
            (rows,) = _need(raw, theirs)
            pools[ours] = [examples.mbpp(task.id, r) for r in rows]
    elif task.task_type == "multiple_choice":
        keep = (lambda r: r["choice_type"] == "single") if opts.get("single_choice_only", True) else (lambda r: True)
        if offline:
            (rows,) = _need(raw, "validation")
            exs = [examples.medmcqa(task.id, r, labels) for r in rows if keep(r)]
            report["dropped_multi_choice"] = len(rows) - len(exs)
            frac = float(opts.get("offline_test_fraction", 0.4))
            test, train = split_off(exs, round(frac * len(exs)), 0, seed, "subject")
            report["offline_split"] = f"subject-stratified {frac:.0%} test / {1 - frac:.0%} train of the validation split"
        else:
            train_rows, test_rows = _need(raw, "train", "test")
            train = [examples.medmcqa(task.id, r, labels) for r in train_rows if keep(r)]
            test = [examples.medmcqa(task.id, r, labels) for r in test_rows if keep(r)]
        min_exp = int(opts.get("min_explanation_chars", 15))
        kept = [e for e in train if e["meta"]["explanation_chars"] >= min_exp]
        report["dropped_short_explanation_train"] = len(train) - len(kept)
        pools = {"train": kept, "test": test}
    else:
        key = "sentence" if loader == "fpb" or (not offline and "sentence" in next(iter(raw["splits"].values()))[0]) else "text"
        built = {s: [examples.classification(task.id, r, labels, key) for r in rows] for s, rows in raw["splits"].items()}
        if "test" in built and "train" in built:
            pools = {"train": built["train"], "test": built["test"]}
        elif "train" in built:  # FPB: no official split
            frac = float(opts.get("test_fraction", 0.15))
            test, train = split_off(built["train"], int(len(built["train"]) * frac), 1, seed)
            pools = {"train": train, "test": test}
            report["split_rule"] = f"seeded stratified {1 - frac:.0%}/{frac:.0%} train/test split (no official split)"
        elif "test" in built:  # LEDGAR offline: test only; a few-shot pool is carved out of it
            n_pool = int(opts.get("few_shot_pool_size", 100))
            few, test = split_off(built["test"], n_pool, 0, seed)
            pools = {"train": [], "test": test, "few_shot": few}
            report["few_shot_pool"] = f"seeded stratified {n_pool} rows removed from the test pool"
        else:
            raise DataError(f"task {task.id!r}: raw data needs a 'train' or 'test' split, has {sorted(built)}")
    for name in list(pools):
        pools[name], dropped = _dedupe(pools[name])
        if dropped:
            report.setdefault("dropped_exact_duplicates", {})[name] = dropped
    return pools, report
