"""One sentence per task from the curve's numbers, with their uncertainty and what the data cannot claim.

Rounding never overstates: N* is rounded up to a whole example, its CI outward (lower bound down, upper up),
and volumes up to two significant figures. The volume stated is ``always_cheaper_above`` (from then on
self-hosting is cheaper at EVERY volume, whole-GPU steps included), not the first crossing. Caller flags
prefix or qualify the sentence: a smoke run is labelled a plumbing check, partial data and an API stand-in
are named, and a single training seed is said to leave seed variance out of the CI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from baseweight_assets.cost.pricing import SCENARIOS


def _count(x: float) -> str:
    return f"{int(x):,}"


def round_up_2sig(x: float) -> float:
    """``x`` rounded up to two significant figures (3,012 -> 3,100; 0 stays 0)."""
    if x <= 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(round(x / step, 9)) * step


def _percent(share: float) -> str:
    return f"{round(100 * share)} %"


def _n_phrase(star: dict, max_n: float | None) -> str:
    if star["censored"] == "left":
        return f"with at most {_count(star['value'])} labelled examples (the fewest measured)"
    text = f"with ≥ {_count(math.ceil(star['value']))} labelled examples"
    if star.get("ci_lo") is None:
        return text
    lo = "≤ " + _count(star["ci_lo"]) if star.get("ci_lo_censored") else _count(math.floor(star["ci_lo"]))
    if star.get("ci_hi") is None:
        beyond = f"beyond {_count(max_n)}, the most measured" if max_n else "beyond the most measured"
        hi = f"{beyond}; {_percent(star['share_not_reached'])} of resamples never reach it"
    else:
        hi = _count(math.ceil(star["ci_hi"]))
    return f"{text} ({_percent(star['confidence'])} CI {lo} to {hi})"


def _volume(corner: dict | None, min_volume: float | None) -> str:
    """The volume from which self-hosting stays cheaper, as a phrase."""
    if corner is None or corner.get("reason") or corner.get("always_cheaper_above") is None:
        return "never"
    volume = corner["always_cheaper_above"]
    if min_volume is not None and volume <= min_volume:
        return f"every volume from {_count(min_volume)} queries/day"
    return f"from {_count(round_up_2sig(volume))} queries/day"


def _cost_clause(corners: Mapping[str, dict | None], scenario: str, min_volume: float | None) -> str:
    corner = corners.get(scenario)
    if corner is None:
        return "; its 12-month cost was not compared (no serving or API cost available)"
    others = [f"{_volume(corners.get(s), min_volume).replace(' queries/day', '')} at {s}" for s in SCENARIOS
              if s != scenario and s in corners]
    rest = f"; {', '.join(others)}" if others else ""
    volume = _volume(corner, min_volume)
    if volume == "never":
        return (f", but self-hosting it never costs less than the API over 12 months at {scenario} GPU prices "
                f"(one GPU costs more per year than the API charges for the queries it can serve{rest})")
    return f" and costs less over 12 months {'at ' if volume.startswith('every') else ''}{volume} ({scenario} GPU prices{rest})"


def verdict(model: str, api: str | None, n_star: dict | None, corners: Mapping[str, dict | None] | None, *,
            margin: float, scenario: str = "mid", max_n: float | None = None, min_volume: float | None = None,
            metric_label: str = "", n_seeds: int | None = None, smoke: bool = False, partial: str | None = None,
            stand_in: bool = False, reason: str | None = None) -> str:
    """The task's sentence. ``n_star`` is ``noninferiority.n_star``'s dict, ``corners`` the surface's
    ``corner`` per scenario (None: costs not compared), ``reason`` a cause when there is no curve at all."""
    prefix = "Smoke run (a plumbing check, not a result): " if smoke else ""
    qualifiers = []
    if partial:
        qualifiers.append(f"partial data: {partial}")
    if stand_in:
        qualifiers.append(f"{api} answered by a local stand-in")
    if n_seeds == 1:
        qualifiers.append("one training seed, so seed variance is not in the CI")
    suffix = f" ({'; '.join(qualifiers)})." if qualifiers else "."
    if reason or api is None or n_star is None:
        return f"{prefix}No data-efficiency verdict: {reason or 'no API cell to compare against'}{suffix}"
    within = f"within {margin:g}" + (f" {metric_label}" if metric_label else "")
    if not n_star["reached"]:
        upto = f"with up to {_count(max_n)} labelled examples, " if max_n else ""
        sentence = (f"{upto}a fine-tuned {model} is not yet shown to match {api} ({within}): not reached with the "
                    f"data available, and {_percent(n_star['share_not_reached'])} of bootstrap resamples never reach it")
    else:
        sentence = (f"{_n_phrase(n_star, max_n)}, a fine-tuned {model} matches {api} ({within})"
                    + _cost_clause(corners or {}, scenario, min_volume))
    sentence = sentence[0].upper() + sentence[1:] if not prefix else sentence
    return prefix + sentence + suffix
