"""The paired comparisons a task's page shows, corrected for showing them together and for how they were chosen.

Shown rows ("headline comparisons"): for every open model, its best LoRA cell against the same model's 5-shot and
zero-shot cells; and the task's best LoRA cell against every API cell.

Two corrections, both Holm's step-down procedure (``scoring.stats.holm``), each stated on the page:

- ``p_holm``: across the rows of the table, the comparisons shown together.
- ``p_selection``: "best" is chosen by the metric on the TEST set (no validation scores exist), which is a
  selection: testing only the chosen pair would overstate its significance. So each row is also tested inside the
  family of every pair it could have been chosen from, and ``p_selection`` is its Holm-adjusted p-value there.
  Holm controls the family-wise error for all pairs of the family at once, so it holds for whichever pair the
  test-set maximum picked. Families: a ``lora_vs_api`` row, every LoRA cell x every API cell of the task (the
  cross-task "best LoRA vs best API" row is one of them); a ``lora_vs_<prompted>`` row, every LoRA cell of the
  row's model against that prompted cell.

A two-sided permutation p-value is at least 2 / (R + 1) with R random permutations, so a family of m such pairs
cannot adjust below 2m / (R + 1): each row reports its family's ``selection_p_floor`` so a reader can tell "not
significant" from "not resolvable with this many resamples" (``bootstrap_resamples`` in run_defaults sets R).

Only usable cells enter: status "ok" with a metric (``summary`` marks a cell whose completeness fails
"incomplete"; an incomplete cell is never compared).

p-values come from ``scoring.stats.compare_cells`` (McNemar for accuracy-type metrics without clusters, else the
paired permutation test, clusters swapped whole). For a LoRA cell trained under several seeds the permutation
test has no version that carries seed variance, so its p-value is from training seed 0's predictions (the cell's
top-level ``per_example``), while the row's difference and CI come from ``curves.seeds.seeded_paired`` over every
seed (questions and seeds both resampled). Each such row says so in ``ci_method`` and ``p_note``.
"""

from __future__ import annotations

from baseweight_assets.conditions import PROMPTED, is_lora
from baseweight_assets.curves.seeds import seeded_paired
from baseweight_assets.scoring.stats import compare_cells, holm, metric_factory

TABLE_RULE = "p (Holm): Holm (1979) across the {m} comparisons of this table, shown together."
SELECTION_RULE = ("p (selection): the best cells are picked on the test set, so each comparison is also tested "
                  "inside the family of every pair it could have been picked from (LoRA vs API: every LoRA cell x "
                  "every API cell of the task; LoRA vs a prompted cell: every LoRA cell of that model against it), "
                  "Holm-adjusted over that family.")
SEED0_P_NOTE = ("p-value from training seed 0's predictions (a permutation test cannot carry seed variance); "
                "difference and CI over all training seeds")


def usable(cell: dict) -> bool:
    """A cell that may be compared: scored, complete, with a metric."""
    return cell.get("status") == "ok" and (cell.get("metric") or {}).get("value") is not None


def _loras(cells: dict[str, dict], model: str | None = None) -> list[str]:
    return sorted(k for k, c in cells.items() if is_lora(c["condition"]) and usable(c)
                  and model in (None, c["model"]))


def _apis(cells: dict[str, dict]) -> list[str]:
    return sorted(k for k, c in cells.items() if c["kind"] == "api" and usable(c))


def _best(cells: dict[str, dict], keys: list[str]) -> str | None:
    return max(keys, key=lambda k: (cells[k]["metric"]["value"], k), default=None)


def best_lora(cells: dict[str, dict], model: str | None = None) -> str | None:
    """The usable LoRA cell with the highest metric (of ``model`` when given); ties broken by variant name."""
    return _best(cells, _loras(cells, model))


def best_api(cells: dict[str, dict]) -> str | None:
    return _best(cells, _apis(cells))


def shown_pairs(cells: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(kind, LoRA variant, other variant) for the rows of the page's table (module docstring)."""
    rows = []
    for model in sorted({c["model"] for c in cells.values() if is_lora(c["condition"])}):
        a = best_lora(cells, model)
        for condition in PROMPTED[::-1]:  # 5-shot first, as the page lists them
            b = f"{model}__{condition}"
            if a and b in cells and usable(cells[b]):
                rows.append((f"lora_vs_{condition}", a, b))
    top = best_lora(cells)
    rows += [("lora_vs_api", top, b) for b in _apis(cells)] if top else []
    return rows


def selection_family(cells: dict[str, dict], kind: str, a: str, b: str) -> list[tuple[str, str]]:
    """Every (LoRA, other) pair the row (kind, a, b) could have been chosen from (module docstring)."""
    if kind == "lora_vs_api":
        return [(x, y) for x in _loras(cells) for y in _apis(cells)]
    return [(x, b) for x in _loras(cells, cells[a]["model"])]


def _compare(task, a: dict, b: dict, n_resamples: int, seed: int) -> dict:
    try:
        return dict(compare_cells(task, a, b, n_resamples=n_resamples, seed=seed))
    except Exception as exc:  # one failed test must not lose the rest of the summary
        return {"error": f"compare_cells failed: {type(exc).__name__}: {exc}"}


def _per_seed(scores: dict) -> list[list[dict]]:
    return [s["per_example"] for s in scores.get("per_seed") or [] if s.get("per_example")]


def _seeded(task, paired: dict, a_scores: dict, b_scores: dict, a: str, b: str, n_resamples: int,
            seed: int) -> dict:
    """Replace the difference and CI of a multi-seed LoRA row by the seed-aware ones (module docstring)."""
    per_seed = _per_seed(a_scores)
    if len(per_seed) < 2 or "error" in paired:
        return paired | {"ci_method": "paired_cluster_bootstrap", "n_seeds": max(1, len(per_seed)), "p_note": None}
    try:
        s = seeded_paired(per_seed, b_scores["per_example"], metric_factory(task.metric), n_resamples, seed,
                          name=a, other_name=b)
    except Exception as exc:  # keep the seed-0 figures, say why
        return paired | {"ci_method": "paired_cluster_bootstrap", "n_seeds": len(per_seed),
                         "p_note": f"seeded CI failed ({type(exc).__name__}: {exc}); seed 0's CI shown"}
    seed0 = {k: paired.get(k) for k in ("diff", "ci_lo", "ci_hi")}
    return paired | {"diff": s["diff"], "ci_lo": s["ci_lo"], "ci_hi": s["ci_hi"], "seed0": seed0,
                     "variance": s["variance"], "n_seeds": s["n_seeds"], "ci_method": "seeded_paired",
                     "p_note": SEED0_P_NOTE}


def _smallest_p(result: dict) -> float | None:
    """The smallest two-sided p-value a permutation test can return: twice the add-one one-sided minimum,
    1 / (R + 1), or 1 / 2^G when all 2^G swaps were enumerated; None for other tests (no such floor)."""
    perm = result.get("permutation") or {}
    if result.get("test") != "paired_permutation" or not perm.get("n_resamples"):
        return None
    return min(1.0, 2 / (perm["n_resamples"] if perm.get("exact") else perm["n_resamples"] + 1))


def _floor(results: list[dict], m: int) -> float | None:
    """The smallest Holm-adjusted p a family of ``m`` tests can reach, when every test is a permutation test."""
    smallest = [_smallest_p(r) for r in results if r.get("p_value") is not None]
    if not smallest or any(p is None for p in smallest):
        return None
    return min(1.0, m * min(smallest))


def task_comparisons(task, cells: dict[str, dict], scores: dict[str, dict], *, n_resamples: int,
                     seed: int) -> tuple[list[dict], dict]:
    """-> (rows, statistics).

    Row: {"kind", "a", "b", "metric_a", "metric_b", "diff", "p_value" (the test's), "p_holm" (across the
    table), "p_selection", "selection_m", "selection_p_floor" (its family), "paired": compare_cells' dict
    (+ "ci_method", "n_seeds", "p_note", and for multi-seed LoRA cells "seed0" and "variance")}.
    Statistics: {"table_rule", "selection_rule", "m" (table rows with a p-value), "table_p_floor", "n_resamples",
    "pairs": [{"a", "b", "p_value", "test", "error"} for every pair tested, table rows and families]}.
    """
    shown = shown_pairs(cells)
    families = {row: selection_family(cells, *row) for row in shown}
    tested = list(dict.fromkeys([(a, b) for _, a, b in shown] + [p for f in families.values() for p in f]))
    results = {(a, b): _compare(task, scores[a], scores[b], n_resamples, seed) for a, b in tested}
    table_holm = holm([results[(a, b)].get("p_value") for _, a, b in shown])
    rows = []
    for (kind, a, b), p_holm in zip(shown, table_holm):
        family = families[(kind, a, b)]
        adjusted = dict(zip(family, holm([results[pair].get("p_value") for pair in family])))
        m = sum(results[pair].get("p_value") is not None for pair in family)
        paired = _seeded(task, results[(a, b)], scores[a], scores[b], a, b, n_resamples, seed)
        ma, mb = cells[a]["metric"]["value"], cells[b]["metric"]["value"]
        rows.append({"kind": kind, "a": a, "b": b, "metric_a": ma, "metric_b": mb, "diff": ma - mb,
                     "p_value": paired.get("p_value"), "p_holm": p_holm, "p_selection": adjusted.get((a, b)),
                     "selection_m": m, "selection_p_floor": _floor([results[p] for p in family], m),
                     "paired": paired})
    m_table = sum(p is not None for p in table_holm)
    stats = {"table_rule": TABLE_RULE.format(m=m_table), "selection_rule": SELECTION_RULE, "m": m_table,
             "table_p_floor": _floor([results[(a, b)] for _, a, b in shown], m_table), "n_resamples": n_resamples,
             "pairs": [{"a": a, "b": b, "p_value": r.get("p_value"), "test": r.get("test"), "error": r.get("error")}
                       for (a, b), r in results.items()]}
    return rows, stats
