"""Lookups into ``PricingConfig``; a missing price raises ``PricingError`` naming what is missing."""

from __future__ import annotations

import math

from baseweight_assets.config.schema import ApiPrice, PricingConfig

SCENARIOS: tuple[str, ...] = ("low", "mid", "high")
HOURS_PER_YEAR = 24 * 365
DAYS_PER_YEAR = 365


class PricingError(LookupError):
    """A price the cost model needs is not in configs/pricing.yaml."""


def hourly_rate(pricing: PricingConfig, hardware: str, scenario: str) -> float:
    """$/hour for one device of ``hardware`` under ``scenario`` (low | mid | high)."""
    if scenario not in SCENARIOS:
        raise PricingError(f"unknown GPU price scenario {scenario!r}; expected one of {list(SCENARIOS)}")
    rate = pricing.hardware.get(hardware)
    if rate is None:
        raise PricingError(
            f"configs/pricing.yaml: no hourly rate for hardware {hardware!r} "
            f"(known: {sorted(pricing.hardware)})"
        )
    return float(getattr(rate, scenario))


def api_price(pricing: PricingConfig, api_model: str) -> ApiPrice:
    price = pricing.api.get(api_model)
    if price is None:
        raise PricingError(
            f"configs/pricing.yaml: no API price for {api_model!r} (known: {sorted(pricing.api)})"
        )
    return price


def trainings_per_year(pricing: PricingConfig) -> int:
    """How many times an adapter is trained in 12 months: once, or every ``retrain_every_months``."""
    if pricing.retrain_every_months <= 0:
        return 1
    return math.ceil(12 / pricing.retrain_every_months)
