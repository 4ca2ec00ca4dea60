"""The break-even surface: over (labelled examples N, daily query volume V), where the fine-tuned model is
both non-inferior to the API (N >= N*) and cheaper over 12 months, per GPU price scenario.

Cost sides reuse ``cost.tco``: self-hosted = ``self_hosted_tco(V, qps, rate, utilisation, fixed(N))`` with
``fixed(N)`` = labelling(N) + training(N) per year (``curves.costs``), API = ``api_tco(V, cost per query)``.
"Cheaper" is strict. A cell's state is "inferior" (N < N*, or N* not reached), "cheaper_and_noninferior" or
"noninferior_not_cheaper". Because self-hosting buys whole always-on GPUs, the cheaper region in V need not
be one interval; the boundary therefore comes from the closed form ``cost.break_even.break_even_volume``:
for each non-inferior N, the first volume where self-hosting is cheaper and the volume above which it stays
cheaper. The corner is the boundary at the smallest non-inferior N: the fewest labels and the least volume
at which fine-tuning wins (labelling and training grow with N, so larger N never need less volume).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from baseweight_assets.cost.break_even import break_even_volume
from baseweight_assets.cost.tco import api_tco, self_hosted_tco

STATES = ("inferior", "noninferior_not_cheaper", "cheaper_and_noninferior")


def break_even_surface(ns: Sequence[float], volumes: Sequence[float], *, n_star: float | None,
                       fixed_per_year: Mapping[str, Sequence[float]], api_cost_per_query: float,
                       serving_qps: float, serving_rates: Mapping[str, float], utilisation_target: float) -> dict:
    """The surface for every scenario in ``serving_rates`` (``fixed_per_year[s][i]`` belongs to ``ns[i]``).

    -> {"n": [...], "volumes": [...], "states": {scenario: [[state for each volume] for each N]},
        "state_names": STATES, "boundary": {scenario: [{"n", "daily_volume", "always_cheaper_above",
        "reason"} for each non-inferior N]}, "corner": {scenario: the boundary's first entry | None},
        "api_cost_per_query", "serving_qps", "utilisation_target"}"""
    ns = [float(n) for n in ns]
    if ns != sorted(ns):
        raise ValueError(f"break_even_surface: N axis must be ascending, got {ns}")
    for s in serving_rates:
        if len(fixed_per_year.get(s, ())) != len(ns):
            raise ValueError(f"break_even_surface: scenario {s!r} needs one fixed cost per N ({len(ns)})")
    api_total = [api_tco(v, api_cost_per_query)["total"] for v in volumes]
    states, boundary, corner = {}, {}, {}
    for s, rate in serving_rates.items():
        grid, edge = [], []
        for i, n in enumerate(ns):
            fixed = fixed_per_year[s][i]
            if n_star is None or n < n_star:
                grid.append(["inferior"] * len(volumes))
                continue
            grid.append(["cheaper_and_noninferior"
                         if self_hosted_tco(v, serving_qps, rate, utilisation_target, fixed)["total"] < api
                         else "noninferior_not_cheaper" for v, api in zip(volumes, api_total)])
            edge.append({"n": n} | break_even_volume(api_cost_per_query, serving_qps, rate, utilisation_target,
                                                     fixed))
        states[s], boundary[s], corner[s] = grid, edge, (edge[0] if edge else None)
    return {"n": ns, "volumes": list(volumes), "states": states, "state_names": list(STATES),
            "boundary": boundary, "corner": corner, "api_cost_per_query": api_cost_per_query,
            "serving_qps": serving_qps, "utilisation_target": utilisation_target}
