"""Daily volume above which self-hosting costs less per year than an API.

Self-hosted TCO is a step function (whole always-on GPUs), API TCO is linear, so there is a closed form.
With C = queries one GPU serves per day at its saturated throughput and the utilisation target
(``tco.daily_capacity``), R = one GPU-year and a = API $/query,
step k (volumes in ((k-1)C, kC]) costs T + kR; it beats the API at V when 365aV > T + kR.
"""

from __future__ import annotations

import math

from baseweight_assets.cost.pricing import DAYS_PER_YEAR, HOURS_PER_YEAR
from baseweight_assets.cost.tco import daily_capacity


def break_even_volume(api_cost_per_query: float, saturated_qps: float, hourly_rate: float, utilisation_target: float,
                      training_per_year: float = 0.0) -> dict:
    """-> {"daily_volume": first volume where self-hosting is cheaper (None = never),
           "always_cheaper_above": volume above which it stays cheaper at every volume (None = never),
           "reason": why None, else None}."""
    a, T = api_cost_per_query, training_per_year
    capacity = daily_capacity(saturated_qps, utilisation_target)
    gpu_year = hourly_rate * HOURS_PER_YEAR
    margin = DAYS_PER_YEAR * a * capacity - gpu_year  # yearly API spend a full GPU displaces, minus its cost
    if a <= 0 or margin <= 0:
        return {"daily_volume": None, "always_cheaper_above": None,
                "reason": "never: one GPU at its utilisation target costs more per year than the API "
                          "charges for the queries it can serve"}

    def crossing(k: int) -> float:
        return max((k - 1) * capacity, (T + k * gpu_year) / (DAYS_PER_YEAR * a))

    k_first = math.floor(T / margin) + 1
    # from step k_last on, even the first query of each step is cheaper self-hosted
    k_last = max(k_first, math.ceil((T + DAYS_PER_YEAR * a * capacity) / margin))
    return {"daily_volume": crossing(k_first),
            "always_cheaper_above": crossing(k_last - 1) if k_last - 1 >= k_first else crossing(k_first),
            "reason": None}
