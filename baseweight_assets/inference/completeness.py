"""Is a predictions cell complete enough to score? Failed requests are missing answers, never wrong ones.

A sampled test question is *missing* when it has no prediction row, or when any of its rows (CUAD: any window)
carries an ``error`` (auth, 4xx, exhausted retries, open circuit breaker, spend cap). A cell whose missing share
exceeds ``threshold`` (``run_defaults.incomplete_threshold``, default 2 %) is incomplete: the check fails and the
report leaves the cell out of headline comparisons. The scorer applies the same rule (``scoring.score``).
"""

from __future__ import annotations

from collections import Counter

from baseweight_assets.data.checks import MAX_LISTED, CheckOutcome


def missing_questions(rows: list[dict], sampled: set[str]) -> dict[str, str]:
    """question_id -> why it is missing, for every sampled question without a usable answer."""
    errors: dict[str, str] = {}
    answered: set[str] = set()
    for row in rows:
        qid = row.get("question_id")
        if row.get("error"):
            errors.setdefault(qid, str(row["error"]))
        else:
            answered.add(qid)
    missing = {q: errors[q] for q in sampled if q in errors}
    missing.update({q: "no prediction row" for q in sampled - answered - set(errors)})
    return missing


def check_prediction_completeness(predictions: dict, prepared: dict, threshold: float) -> CheckOutcome:
    if predictions.get("status") != "ok":
        return CheckOutcome(True, f"skipped: {predictions.get('reason')}", {"status": predictions.get("status")})
    sampled = {q for seed in prepared["test_seeds"] for q in seed}
    missing = missing_questions(predictions["rows"], sampled)
    share = len(missing) / len(sampled) if sampled else 0.0
    reasons = Counter(reason.split(":")[0][:80] for reason in missing.values())
    meta = {"n_sampled": len(sampled), "n_missing": len(missing), "missing_share": round(share, 4),
            "threshold": threshold, "missing": sorted(missing)[:MAX_LISTED],
            "missing_reasons": dict(reasons.most_common(5))}
    if share > threshold:
        return CheckOutcome(False, f"incomplete: {len(missing)}/{len(sampled)} sampled questions have no answer "
                            f"({share:.1%} > {threshold:.0%}); the cell is left out of headline comparisons", meta)
    return CheckOutcome(True, f"{len(sampled) - len(missing)}/{len(sampled)} sampled questions answered", meta)
