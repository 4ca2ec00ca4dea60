"""``prepare_task``: raw rows -> the prepared_splits value (docs/ARCHITECTURE.md).

Order: pools per the source's rule (``data.pools``: keep_rows, the kind's examples, the pool rules) -> the kind's
cleaning (one row per question: drop exact duplicates and train/val/few-shot rows that duplicate or near-duplicate
a test row; windowed documents: drop training questions whose gold cannot be located) -> carve val from the train
pool when no val pool is configured -> sample train -> few-shot choice -> ``n_eval_seeds`` stratified test samples
over question ids -> the kind's rows (windows for extraction) -> the nested LoRA subsets of the data-efficiency
curve, drawn from the final train rows. ``test_pool`` is the union of the seed samples (every row a prediction run
needs); the size of the full pool they were drawn from is in the report. Deterministic: same inputs,
byte-identical output.
"""

from __future__ import annotations

from collections import Counter

from baseweight_assets.conditions import FULL, LoraSize, is_lora, lora
from baseweight_assets.config.schema import SamplingConfig, SplitSampling, TaskConfig
from baseweight_assets.data.few_shot import choose, few_shot_hash
from baseweight_assets.data.pools import build_pools
from baseweight_assets.data.sampling import nested_subsets, sample, split_off
from baseweight_assets.prompting import PromptTemplate, messages_hash
from baseweight_assets.tasks import Drawn, kind_of


def _cap(n: int | None, rows_per_split: int | None) -> int | None:
    if rows_per_split is None:
        return n
    return rows_per_split if n is None else min(n, rows_per_split)


def _draw(rows: list[dict], spec: SplitSampling, total: int | None, seed: int, min_per_group: int | None = None) -> list[dict]:
    mpg = spec.min_per_group if min_per_group is None else min_per_group
    return sample(rows, total, mpg, seed, spec.stratify_by, spec.balance_by)


def _skips(task: TaskConfig, raw: dict, train: list, shots: list) -> dict[str, str]:
    skips = dict(task.skip_conditions)
    if raw["source"] == "offline" and task.source.offline:
        skips.update(task.source.offline.skip_conditions)
    if not train:
        skips.setdefault("lora", "No training rows after preparation.")
    if not shots or task.n_shots == 0:
        skips.setdefault("5-shot", "No few-shot examples (n_shots is 0 or the pool is empty).")
    return skips


def lora_subsets(train: list[dict], sizes: list[LoraSize], s: SamplingConfig) -> tuple[dict[str, list[str]],
                                                                                      dict[str, str]]:
    """``({lora-N: train ids}, {lora-N: why skipped})`` for every size of the curve; subsets are nested and
    stratified like train (``sampling.nested_subsets``); ``lora-full`` is every train row."""
    numeric = sorted({n for n in sizes if n != FULL})
    subsets, skipped = nested_subsets(train, numeric, s.seed, s.train.stratify_by, s.train.balance_by,
                                      min_per_group=1 if s.train.stratify_by else 0)
    out = {lora(n): sorted(ids) for n, ids in subsets.items()}
    if FULL in sizes:
        out[lora(FULL)] = sorted(r["id"] for r in train)
    return out, {lora(n): f"{reason}; skipped rather than trained on fewer" for n, reason in skipped.items()}


def _merge_skips(configured: dict[str, str], subset_skips: dict[str, str]) -> dict[str, str]:
    """A configured reason ('lora': every size) wins over a size's own 'needs N rows' reason."""
    if "lora" in configured:
        return configured
    return {**subset_skips, **configured}


def condition_skip_reason(prepared: dict, condition: str) -> str | None:
    """Why a cell of this task cannot run ``condition``, or None. ``lora`` in skip_conditions covers every size."""
    skips = prepared.get("skip_conditions", {})
    if condition in skips:
        return skips[condition]
    if is_lora(condition):
        if "lora" in skips:
            return skips["lora"]
        if condition not in prepared.get("lora_subsets", {}):
            return (f"{condition} is not on this task's LoRA curve {sorted(prepared.get('lora_subsets', {}))} "
                    "(lora_sizes in configs/tasks/<task>.yaml, run_defaults.yaml or the profile)")
    return None


def _finish(rows: list[dict], prompt: PromptTemplate) -> list[dict]:
    out = []
    for r in rows:
        r = {k: v for k, v in r.items() if k != "_content"}
        r["meta"] = {**r["meta"], "prompt_hash": messages_hash(prompt.render_messages(r))}
        out.append(r)
    return out


def prepare_task(task: TaskConfig, raw: dict, prompt: PromptTemplate, *, n_eval_seeds: int,
                 rows_per_split: int | None = None, lora_sizes: list[LoraSize] = ()) -> dict:
    s = task.sampling
    kind = kind_of(task)
    labels = raw.get("labels")
    pools, report = build_pools(task, raw, lambda row: kind.example(task.id, row, labels))
    documents = kind.documents(task, raw)
    pools = kind.refine_pools(task, pools, documents, report)
    report["pool_sizes"] = {k: len(v) for k, v in pools.items()}

    if pools.get("val") is not None:
        val = _draw(pools["val"], s.train, _cap(s.val_size, rows_per_split), s.seed)
        rest = pools["train"]
    elif pools["train"] and s.val_size:
        n_groups = len({r["group"] for r in pools["train"]})
        val_n = _cap(s.val_size, rows_per_split)
        val, rest = split_off(pools["train"], val_n, min(s.train.min_per_group, val_n // max(n_groups, 1)),
                              s.seed, s.train.stratify_by, s.train.balance_by)
    else:
        val, rest = [], pools["train"]
    train = _draw(rest, s.train, _cap(s.train.total_cap, rows_per_split), s.seed)
    shot_pool = pools.get("few_shot") or train
    shots = choose(shot_pool, task.n_shots, s.seed, s.train.balance_by)

    candidates = pools["test"]
    if rows_per_split is not None:
        candidates = _draw(candidates, s.test, rows_per_split, s.seed)
    seeds = [_draw(candidates, s.test, _cap(s.test.total_cap, rows_per_split), s.seed + k) for k in range(n_eval_seeds)]
    union = {r["id"]: r for seed in seeds for r in seed}
    drawn = kind.rows(task, Drawn(train, val, shots, [union[k] for k in sorted(union)]), documents,
                      test_pool=pools["test"], rows_per_split=rows_per_split, report=report)
    train, val, shots, test_rows = drawn.train, drawn.val, drawn.few_shot, drawn.test

    subsets, subset_skips = lora_subsets(train, list(lora_sizes), s)
    report.update({
        "counts": {"train": len(train), "val": len(val), "test_pool": len(test_rows), "few_shot": len(shots),
                   "lora_subsets": {c: len(ids) for c, ids in subsets.items()},
                   "test_seed_questions": [len(x) for x in seeds],
                   "test_candidates": len(pools["test"])},
        "train_groups": dict(sorted(Counter(r["group"] for r in train).items())),
        "test_groups_seed0": dict(sorted(Counter(r["group"] for r in seeds[0]).items())) if seeds else {},
        "sampling": s.model_dump(),
        "rows_per_split": rows_per_split,
    })
    if s.test.balance_by and seeds:
        report["test_balance_seed0"] = dict(Counter(str(r["meta"][s.test.balance_by]) for r in seeds[0]))
    shots = _finish(shots, prompt)
    prov = raw["provenance"]
    return {
        "task": task.id,
        "labels": raw.get("labels"),
        "splits": {"train": _finish(train, prompt), "val": _finish(val, prompt),
                   "test_pool": _finish(test_rows, prompt), "few_shot": shots},
        "lora_subsets": subsets,
        "test_seeds": [sorted(r["id"] for r in seed) for seed in seeds],
        "few_shot_hash": few_shot_hash(shots),
        "prompt_hash": prompt.hash,
        "skip_conditions": _merge_skips(_skips(task, raw, train, shots), subset_skips),
        "provenance": {"source": raw["source"], "dataset": prov.get("dataset"), "revision": prov.get("revision"),
                       "partial": prov.get("partial"), "files": prov.get("files", {})},
        "report": {**raw.get("report", {}), **report},
    }
