"""Variant keys: ``<model>__<condition>``, the second partition dimension of every model asset."""

from __future__ import annotations

from baseweight_assets.config.loader import BenchConfig
from baseweight_assets.config.schema import LORA_CONDITIONS

SEPARATOR = "__"


def variant_key(model_id: str, condition: str) -> str:
    return f"{model_id}{SEPARATOR}{condition}"


def split_variant(variant: str) -> tuple[str, str]:
    model_id, sep, condition = variant.rpartition(SEPARATOR)
    if not sep or not model_id or not condition:
        raise ValueError(f"not a variant key (expected '<model>{SEPARATOR}<condition>'): {variant!r}")
    return model_id, condition


def local_variants(bench: BenchConfig) -> list[str]:
    return [variant_key(m.id, c) for m in bench.local_models() for c in m.conditions]


def lora_variants(bench: BenchConfig) -> list[str]:
    return [v for v in local_variants(bench) if split_variant(v)[1] in LORA_CONDITIONS]


def api_variants(bench: BenchConfig) -> list[str]:
    return [variant_key(m.id, c) for m in bench.api_models() for c in m.conditions]


def all_variants(bench: BenchConfig) -> list[str]:
    return local_variants(bench) + api_variants(bench)
