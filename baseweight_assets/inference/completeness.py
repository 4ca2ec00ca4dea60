"""Is a predictions cell complete enough to score? Failed requests are missing answers, never wrong ones.

What "missing" means is the scorer's rule, written once in ``scoring.score.missing_questions``: a sampled question
is missing when it has no prediction row, when any of its rows (windowed kinds: any window) carries an ``error``
that is not None (auth, 4xx, exhausted retries, open circuit breaker, spend cap), or when a window of it has no row.
A LoRA cell answered by several training seeds' adapters (rows with ``seed``) is judged per seed, as
``scoring.seeded.score_cell`` scores it: the cell is complete only if every seed is. A seed whose missing share
exceeds ``threshold`` (``run_defaults.incomplete_threshold``, default 2 %), or that has nothing sampled, is
incomplete: the check fails and the report leaves the cell out of headline comparisons.
"""

from __future__ import annotations

from collections import Counter

from baseweight_assets.data.checks import MAX_LISTED, CheckOutcome
from baseweight_assets.scoring.score import completeness, missing_questions
from baseweight_assets.scoring.seeded import rows_by_training_seed


def check_prediction_completeness(task_type: str, predictions: dict, prepared: dict, threshold: float) -> CheckOutcome:
    """Pass when every training seed's rows leave at most ``threshold`` of the sampled questions missing; the
    numbers are those ``scoring.score.completeness`` gives the scores (for several seeds: the worst seed's)."""
    if predictions.get("status") != "ok":
        return CheckOutcome(True, f"skipped: {predictions.get('reason')}", {"status": predictions.get("status")})
    per_seed = []
    for seed, rows in rows_by_training_seed(predictions["rows"]):
        missing = missing_questions(task_type, prepared, rows)
        per_seed.append((seed, missing, completeness(prepared, missing, threshold)))
    worst_seed, missing, worst = max(per_seed, key=lambda p: (not p[2]["complete"], p[2]["n_missing"]))
    every_missing = {q: why for _, m, _ in per_seed for q, why in m.items()}
    reasons = Counter(reason.split(":")[0][:80] for reason in every_missing.values())
    n_sampled, share = worst["n_sampled"], worst["missing_share"]
    meta = {"n_sampled": n_sampled, "n_missing": worst["n_missing"],
            "missing_share": None if share is None else round(share, 4), "threshold": threshold,
            "missing": sorted(every_missing)[:MAX_LISTED], "missing_reasons": dict(reasons.most_common(5))}
    seeds = [s for s, _, _ in per_seed if s is not None]
    if seeds:
        meta.update(training_seeds=seeds, n_missing_per_seed=[c["n_missing"] for _, _, c in per_seed])
    where = f" (training seed {worst_seed})" if seeds else ""
    if not n_sampled:
        return CheckOutcome(False, "incomplete: no sampled test question to answer", meta)
    if not all(c["complete"] for _, _, c in per_seed):
        return CheckOutcome(False, f"incomplete{where}: {len(missing)}/{n_sampled} sampled questions have no answer "
                            f"({share:.1%} > {threshold:.0%}); the cell is left out of headline comparisons", meta)
    return CheckOutcome(True, f"{n_sampled - len(missing)}/{n_sampled} sampled questions answered{where}", meta)
