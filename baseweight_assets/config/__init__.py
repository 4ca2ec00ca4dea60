"""Typed, validated configuration loaded from ``configs/`` (YAML as data, never code)."""

from baseweight_assets.config.errors import ConfigError
from baseweight_assets.config.loader import BenchConfig, load_bench_config
from baseweight_assets.config.schema import (
    API_CONDITIONS,
    ModelConfig,
    PricingConfig,
    RunDefaults,
    TaskConfig,
    TrainingConfig,
)

__all__ = [
    "API_CONDITIONS",
    "BenchConfig",
    "ConfigError",
    "ModelConfig",
    "PricingConfig",
    "RunDefaults",
    "TaskConfig",
    "TrainingConfig",
    "load_bench_config",
]
