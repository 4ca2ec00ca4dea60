"""Scores of a cell answered by several training seeds' adapters (a LoRA cell under ``training_seeds``).

Each seed's rows (``row["seed"]``) are scored on their own with ``score.score_predictions``. With one seed that is
the cell's score. With k seeds the headline metric is the mean over seeds and its CI accounts for both example
sampling and seed variance (``curves.seeds.seeded_cell``: shared question draws, seed noise from t_{k-1}); the
variance split is reported. ``per_example`` stays seed 0's (paired tests against another cell use it, and
say so); every seed's result is kept under ``per_seed``. A cell is complete only if every seed is.
"""

from __future__ import annotations

from baseweight_assets.curves.seeds import seeded_cell
from baseweight_assets.scoring.score import score_predictions
from baseweight_assets.scoring.stats import metric_factory

PER_SEED_KEYS = ("metric", "ci_lo", "ci_hi", "n", "error_counts", "completeness", "per_example")


def rows_by_training_seed(rows: list[dict]) -> list[tuple[int | None, list[dict]]]:
    """(seed, its rows) per training seed in seed order; [(None, rows)] for a cell without seeds."""
    seeds = sorted({r["seed"] for r in rows if r.get("seed") is not None})
    if not seeds:
        return [(None, rows)]
    return [(s, [r for r in rows if r.get("seed") == s]) for s in seeds]


def score_cell(task, prepared: dict, rows: list[dict], **score_kwargs) -> dict:
    split = rows_by_training_seed(rows)
    if split[0][0] is None:
        return score_predictions(task, prepared, rows, **score_kwargs)
    seeds = [s for s, _ in split]
    per_seed = [score_predictions(task, prepared, part, **score_kwargs) for _, part in split]
    result = dict(per_seed[0])
    result["per_seed"] = [{"seed": s, **{k: p.get(k) for k in PER_SEED_KEYS}} for s, p in zip(seeds, per_seed)]
    complete = all((p.get("completeness") or {}).get("complete", True) for p in per_seed)
    result["completeness"] = {**(result.get("completeness") or {}), "complete": complete,
                              "per_seed_complete": [(p.get("completeness") or {}).get("complete") for p in per_seed]}
    if len(seeds) > 1 and all(p.get("per_example") for p in per_seed):
        summary = seeded_cell([p["per_example"] for p in per_seed], metric_fn=metric_factory(task.metric),
                              n_resamples=score_kwargs.get("n_bootstrap", 1000), seed=score_kwargs.get("seed", 0))
        result.update(metric=summary["metric"], ci_lo=summary["ci_lo"], ci_hi=summary["ci_hi"],
                      seed_variance=summary["variance"], n_training_seeds=len(seeds),
                      training_seed_values=summary.get("seed_values"))
    else:
        result["n_training_seeds"] = len(seeds)
    return result
