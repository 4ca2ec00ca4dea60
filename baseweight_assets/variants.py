"""Variant keys: ``<model>__<condition>``, the second partition dimension of every model asset."""

from __future__ import annotations

from baseweight_assets.conditions import is_lora
from baseweight_assets.config.loader import BenchConfig

SEPARATOR = "__"


def variant_key(model_id: str, condition: str) -> str:
    return f"{model_id}{SEPARATOR}{condition}"


def split_variant(variant: str) -> tuple[str, str]:
    model_id, sep, condition = variant.rpartition(SEPARATOR)
    if not sep or not model_id or not condition:
        raise ValueError(f"not a variant key (expected '<model>{SEPARATOR}<condition>'): {variant!r}")
    return model_id, condition


def local_variants(bench: BenchConfig, profile: str) -> list[str]:
    return [variant_key(m.id, c) for m in bench.local_models() for c in bench.model_conditions(m.id, profile)]


def lora_variants(bench: BenchConfig, profile: str) -> list[str]:
    return [v for v in local_variants(bench, profile) if is_lora(split_variant(v)[1])]


def api_variants(bench: BenchConfig, profile: str) -> list[str]:
    return [variant_key(m.id, c) for m in bench.api_models() for c in bench.model_conditions(m.id, profile)]


def all_variants(bench: BenchConfig, profile: str) -> list[str]:
    return local_variants(bench, profile) + api_variants(bench, profile)
