"""12-month total cost of ownership: training (re-trained on a cadence) + serving at a daily volume.

Every self-hosted figure is sized by the engine's SATURATED throughput (``saturated_qps``, questions per second
one device serves with its batch full) run at the utilisation target; the break-even in ``break_even.py``
uses the same capacity (``daily_capacity``) so the two can never disagree.
"""

from __future__ import annotations

import math

from baseweight_assets.cost.pricing import DAYS_PER_YEAR, HOURS_PER_YEAR

SECONDS_PER_DAY = 86400


def daily_capacity(saturated_qps: float, utilisation_target: float) -> float:
    """Queries one always-on device serves per day: saturated throughput x seconds per day x utilisation."""
    if saturated_qps <= 0:
        raise ValueError(f"saturated queries per second must be positive, got {saturated_qps}")
    if not 0 < utilisation_target <= 1:
        raise ValueError(f"utilisation_target must be in (0, 1], got {utilisation_target}")
    return saturated_qps * SECONDS_PER_DAY * utilisation_target


def gpus_needed(daily_volume: float, saturated_qps: float, utilisation_target: float) -> int:
    """Always-on devices for ``daily_volume`` at ``daily_capacity`` each; >= 1."""
    capacity = daily_capacity(saturated_qps, utilisation_target)
    # round() first so float noise just above a whole number does not buy an extra GPU
    return max(1, math.ceil(round(daily_volume / capacity, 9)))


def training_cost_per_year(device_hours: float, hourly_rate: float, trainings: int) -> float:
    return device_hours * hourly_rate * trainings


def self_hosted_tco(daily_volume: float, saturated_qps: float, hourly_rate: float, utilisation_target: float,
                    training_per_year: float = 0.0) -> dict:
    """{"gpus", "training", "serving", "total"}: always-on devices x $/h x 8,760 h + training per year."""
    gpus = gpus_needed(daily_volume, saturated_qps, utilisation_target)
    serving = gpus * hourly_rate * HOURS_PER_YEAR
    return {"gpus": gpus, "training": training_per_year, "serving": serving,
            "total": training_per_year + serving}


def api_tco(daily_volume: float, cost_per_query: float) -> dict:
    """{"gpus": 0, "training": 0, "serving", "total"}: cost per query x daily volume x 365."""
    serving = cost_per_query * daily_volume * DAYS_PER_YEAR
    return {"gpus": 0, "training": 0.0, "serving": serving, "total": serving}
