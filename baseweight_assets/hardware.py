"""What the code is running on, named the way configs/pricing.yaml names hardware.

A GPU is matched by its ``torch.cuda.get_device_name()`` against the ``device_names`` patterns of each
``hardware`` entry in the pricing config (the table lives there, not here); a CPU host is ``cpu-<n>core``
by the cores this process may use. An explicit override (a pricing key) wins over detection.
"""

from __future__ import annotations

import os
import platform
import re
from typing import TYPE_CHECKING

from baseweight_assets.cost.pricing import PRICING_FILE, PricingError, cpu_hardware_key, hourly_rate

if TYPE_CHECKING:
    from baseweight_assets.config.schema import PricingConfig


class UnknownHardwareError(PricingError):
    """The device cannot be named by a pricing key; the message names the device and the file to edit."""


def gpu_hardware_key(pricing: PricingConfig, device_name: str) -> str:
    """The one ``hardware`` key whose ``device_names`` patterns fully match ``device_name`` (case-insensitive).

    Raises UnknownHardwareError when no key matches, or when two keys match (an ambiguous table)."""
    hits = sorted(key for key, rate in pricing.hardware.items()
                  if any(re.fullmatch(p, device_name.strip(), flags=re.IGNORECASE) for p in rate.device_names))
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise UnknownHardwareError(
            f"GPU {device_name!r} matches the device_names of several hardware entries {hits} in {PRICING_FILE}; "
            "make the patterns exclusive")
    raise UnknownHardwareError(
        f"GPU {device_name!r} matches no hardware entry in {PRICING_FILE}: add a pattern for it under "
        f"hardware.<key>.device_names (keys: {sorted(pricing.hardware)}), or add an entry with its $/hour and "
        "source; or name the hardware explicitly (the override, e.g. BASEWEIGHT_HARDWARE=H100-SXM)")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_hardware_key(pricing: PricingConfig, key: str) -> str:
    """``key`` if the pricing config can price it (a ``hardware`` entry or ``cpu-<n>core``), else
    UnknownHardwareError naming the file."""
    try:
        hourly_rate(pricing, key, "mid")
    except PricingError as exc:
        raise UnknownHardwareError(f"hardware override {key!r}: {exc}") from None
    return key


def _cuda_device() -> tuple[str, int] | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0), torch.cuda.device_count()


def default_pricing() -> PricingConfig:
    """The repository's configs/pricing.yaml (for callers that have no loaded config at hand)."""
    from baseweight_assets.config.loader import load_model_file
    from baseweight_assets.config.schema import PricingConfig
    from baseweight_assets.paths import REPO_ROOT

    return load_model_file(REPO_ROOT / PRICING_FILE, PricingConfig)


def detect_hardware(pricing: PricingConfig | None = None, *, override: str | None = None) -> dict:
    """``{"hardware": pricing key, "device": "cuda"|"cpu", "name": device name, "count": n, "source":
    "override"|"detected"}``.

    ``override`` (a pricing key, e.g. from BASEWEIGHT_HARDWARE) is checked against the pricing config and wins;
    otherwise CUDA device 0 is matched by name (UnknownHardwareError when no pattern matches) and a host without
    CUDA is ``cpu-<usable cores>core``. ``pricing`` defaults to the repository's configs/pricing.yaml.
    """
    pricing = pricing if pricing is not None else default_pricing()
    cuda = _cuda_device()
    if cuda:
        name, count = cuda
        device = "cuda"
    else:
        name, count, device = platform.processor() or platform.machine(), 1, "cpu"
    if override:
        return {"hardware": check_hardware_key(pricing, override), "device": device, "name": name,
                "count": count, "source": "override"}
    key = gpu_hardware_key(pricing, name) if cuda else cpu_hardware_key(usable_cores())
    return {"hardware": key, "device": device, "name": name, "count": count, "source": "detected"}


def accelerator_count() -> int:
    """CUDA devices visible here, without initialising CUDA in this process: ``torch.cuda.device_count`` does not
    (``get_device_name`` does), so processes forked afterwards can still use the GPU."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()
