"""12-month total cost of ownership: training (re-trained on a cadence) + serving at a daily volume."""

from __future__ import annotations

import math

from baseweight_assets.cost.pricing import DAYS_PER_YEAR, HOURS_PER_YEAR

SECONDS_PER_DAY = 86400


def gpus_needed(daily_volume: float, qps: float, utilisation_target: float) -> int:
    """Always-on devices for ``daily_volume`` at measured ``qps`` each, run at ``utilisation_target``; >= 1."""
    if qps <= 0:
        raise ValueError(f"queries per second must be positive, got {qps}")
    if not 0 < utilisation_target <= 1:
        raise ValueError(f"utilisation_target must be in (0, 1], got {utilisation_target}")
    busy = daily_volume / (qps * SECONDS_PER_DAY)
    # round() first so float noise just above a whole number does not buy an extra GPU
    return max(1, math.ceil(round(busy / utilisation_target, 9)))


def training_cost_per_year(device_hours: float, hourly_rate: float, trainings: int) -> float:
    return device_hours * hourly_rate * trainings


def self_hosted_tco(daily_volume: float, qps: float, hourly_rate: float, utilisation_target: float,
                    training_per_year: float = 0.0) -> dict:
    gpus = gpus_needed(daily_volume, qps, utilisation_target)
    serving = gpus * hourly_rate * HOURS_PER_YEAR
    return {"gpus": gpus, "training": training_per_year, "serving": serving,
            "total": training_per_year + serving}


def api_tco(daily_volume: float, cost_per_query: float) -> dict:
    serving = cost_per_query * daily_volume * DAYS_PER_YEAR
    return {"gpus": 0, "training": 0.0, "serving": serving, "total": serving}
