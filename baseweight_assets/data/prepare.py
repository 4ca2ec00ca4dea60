"""``prepare_task``: raw rows -> the prepared_splits value (docs/ARCHITECTURE.md).

Order: pools per source rule -> drop train/val/few-shot rows that duplicate or near-duplicate a
test row -> carve val from the train pool -> sample train -> few-shot choice -> ``n_eval_seeds``
stratified test samples over question ids -> windows (extraction) -> the nested LoRA subsets of the
data-efficiency curve, drawn from the final train rows. ``test_pool`` is
the union of the seed samples (every row a prediction run needs); the size of the full pool
they were drawn from is in the report. Deterministic: same inputs, byte-identical output.
"""

from __future__ import annotations

from collections import Counter

from baseweight_assets.conditions import FULL, LoraSize, is_lora, lora
from baseweight_assets.config.schema import SamplingConfig, SplitSampling, TaskConfig
from baseweight_assets.data import cuad_rows
from baseweight_assets.data.contamination import find_overlaps
from baseweight_assets.data.few_shot import choose, few_shot_hash
from baseweight_assets.data.sampling import nested_subsets, sample, split_off
from baseweight_assets.data.splits import build_pools
from baseweight_assets.prompting import PromptTemplate, messages_hash

SMOKE_MAX_WINDOWS = 2  # smoke runs on CPU: 12 questions x 12 windows of 750 words is too slow


def _cap(n: int | None, rows_per_split: int | None) -> int | None:
    if rows_per_split is None:
        return n
    return rows_per_split if n is None else min(n, rows_per_split)


def _draw(rows: list[dict], spec: SplitSampling, total: int | None, seed: int, min_per_group: int | None = None) -> list[dict]:
    mpg = spec.min_per_group if min_per_group is None else min_per_group
    return sample(rows, total, mpg, seed, spec.stratify_by, spec.balance_by)


def _decontaminate(pools: dict[str, list[dict]]) -> dict:
    test = [(r["id"], r["_content"]) for r in pools["test"]]
    removed = {}
    for name in ("train", "val", "few_shot"):
        if not pools.get(name):
            continue
        hits = find_overlaps([(r["id"], r["_content"]) for r in pools[name]], test)
        bad = {h["id"] for h in hits}
        if bad:
            pools[name] = [r for r in pools[name] if r["id"] not in bad]
            removed[name] = hits
    return removed


def _decontaminate_windows(task: TaskConfig, contracts: dict, test_questions: list[dict], splits: dict) -> dict:
    """CUAD: drop train/val/few-shot windows that (near-)duplicate any window of any test contract
    (boilerplate shared across contracts survives the contract-level split)."""
    cfg = task.windows
    titles = sorted({q["meta"]["title"] for q in test_questions})
    test = []
    for t in titles:
        c = contracts[t]
        test += [(f"{t}#w{i}", c.text(s, s + cfg.size)) for i, s in enumerate(cuad_rows.window_starts(len(c.words), cfg.size, cfg.stride))]
    out, hits_by_split = {}, {}
    for name, rows in splits.items():
        hits = find_overlaps([(r["id"], r["_content"]) for r in rows], test)
        bad = {h["id"] for h in hits}
        out[name] = [r for r in rows if r["id"] not in bad]
        if hits:
            hits_by_split[name] = hits
    out["hits"] = hits_by_split
    return out


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
    pools, report = build_pools(task, raw)
    contracts = None
    if task.task_type == "extraction":
        contracts, pools, cuad_report = cuad_rows.contract_split(task, raw, pools["questions"])
        report.update(cuad_report)
    else:
        report["contamination_removed"] = _decontaminate(pools)
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
    test_questions = [union[k] for k in sorted(union)]

    if contracts is not None:
        cfg = task.windows
        max_windows = cfg.max_windows if rows_per_split is None else min(cfg.max_windows, SMOKE_MAX_WINDOWS)
        train = [cuad_rows.train_row(task.id, q, contracts[q["meta"]["title"]], cfg, s.seed) for q in train]
        val = [cuad_rows.train_row(task.id, q, contracts[q["meta"]["title"]], cfg, s.seed) for q in val]
        shots = [cuad_rows.few_shot_row(task.id, q, contracts[q["meta"]["title"]], cfg, s.seed) for q in shots]
        removed = _decontaminate_windows(task, contracts, pools["test"], {"train": train, "val": val, "few_shot": shots})
        train, val, shots = removed.pop("train"), removed.pop("val"), removed.pop("few_shot")
        report["contamination_removed"] = removed["hits"]
        test_rows, truncated, beyond = [], set(), []
        for q in test_questions:
            rows, cut, lost = cuad_rows.test_rows(task.id, q, contracts[q["meta"]["title"]], cfg, max_windows)
            test_rows += rows
            if cut:
                truncated.add(q["meta"]["title"])
            if lost:
                beyond.append(q["id"])
        report["windows"] = {
            "unit": cfg.unit, "size": cfg.size, "stride": cfg.stride, "max_windows": max_windows,
            "test_rows": len(test_rows), "test_questions": len(test_questions),
            "contracts_over_cap": len(truncated), "contracts_over_cap_titles": sorted(truncated),
            "questions_with_gold_beyond_cap": beyond,
            "contracts_over_cap_in_corpus": sum(
                len(window_list) > cfg.max_windows
                for window_list in (cuad_rows.window_starts(len(c.words), cfg.size, cfg.stride) for c in contracts.values())
            ),
        }
    else:
        test_rows = test_questions

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
