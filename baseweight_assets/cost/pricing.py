"""Lookups into ``PricingConfig``; a missing price raises ``PricingError`` naming what is missing."""

from __future__ import annotations

import math

from baseweight_assets.config.schema import CPU_HARDWARE_PATTERN, ApiPrice, LabellingRate, PricingConfig

SCENARIOS: tuple[str, ...] = ("low", "mid", "high")
HOURS_PER_YEAR = 24 * 365
DAYS_PER_YEAR = 365
PRICING_FILE = "configs/pricing.yaml"


class PricingError(LookupError):
    """A price the cost model needs is not in configs/pricing.yaml."""


def cpu_hardware_key(cores: int) -> str:
    """The hardware key of a CPU host with ``cores`` vCPUs (``cpu-<n>core``), priced n x ``cpu_per_vcpu``."""
    if cores < 1:
        raise ValueError(f"a CPU host has at least one core, got {cores}")
    return f"cpu-{cores}core"


def hourly_rate(pricing: PricingConfig, hardware: str, scenario: str) -> float:
    """$/hour for one device of ``hardware`` under ``scenario`` (low | mid | high).

    A GPU key is looked up under ``hardware``; ``cpu-<n>core`` is n x ``cpu_per_vcpu`` (one rule for every
    core count)."""
    if scenario not in SCENARIOS:
        raise PricingError(f"unknown GPU price scenario {scenario!r}; expected one of {list(SCENARIOS)}")
    cpu = CPU_HARDWARE_PATTERN.match(hardware or "")
    if cpu:
        if pricing.cpu_per_vcpu is None:
            raise PricingError(f"{PRICING_FILE}: no cpu_per_vcpu rate to price CPU host {hardware!r}")
        return int(cpu.group(1)) * float(getattr(pricing.cpu_per_vcpu, scenario))
    rate = pricing.hardware.get(hardware)
    if rate is None:
        raise PricingError(
            f"{PRICING_FILE}: no hourly rate for hardware {hardware!r} "
            f"(known: {sorted(pricing.hardware)}, or cpu-<n>core)"
        )
    return float(getattr(rate, scenario))


def api_price(pricing: PricingConfig, api_model: str) -> ApiPrice:
    price = pricing.api.get(api_model)
    if price is None:
        raise PricingError(
            f"{PRICING_FILE}: no API price for {api_model!r} (known: {sorted(pricing.api)})"
        )
    return price


def labelling_rate(pricing: PricingConfig, task_id: str) -> LabellingRate:
    """The cost of labelling one training question of ``task_id``: its own entry, else ``labelling.default``."""
    if pricing.labelling is None:
        raise PricingError(f"{PRICING_FILE}: no 'labelling' section; add labelling.default (usd_per_example, "
                           "source, checked_at)")
    return pricing.labelling.tasks.get(task_id) or pricing.labelling.default


def labelling_cost_usd(pricing: PricingConfig, task_id: str, n_examples: int) -> float:
    """Dollars to label ``n_examples`` training questions of ``task_id``."""
    if n_examples < 0:
        raise ValueError(f"n_examples must be >= 0, got {n_examples}")
    return n_examples * labelling_rate(pricing, task_id).usd_per_example


def trainings_per_year(pricing: PricingConfig) -> int:
    """How many times an adapter is trained in 12 months: once, or every ``retrain_every_months``."""
    if pricing.retrain_every_months <= 0:
        return 1
    return math.ceil(12 / pricing.retrain_every_months)
