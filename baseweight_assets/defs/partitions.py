"""Partition definitions derived from configs: a new task or model YAML adds partitions, no code.

Dagster multi-partitions allow two dimensions, so model assets use ``task × variant`` with
variant = ``<model>__<condition>``; data assets use ``task`` alone. Keys print as
``task|variant`` (dimensions sort by name).
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from baseweight_assets.config.loader import BenchConfig
from baseweight_assets import variants as V


@dataclass(frozen=True)
class PartitionSpace:
    tasks: tuple[str, ...]
    local_variants: tuple[str, ...]
    lora_variants: tuple[str, ...]
    api_variants: tuple[str, ...]

    @classmethod
    def from_config(cls, bench: BenchConfig, profile: str) -> PartitionSpace:
        """Partitions under a profile: its LoRA curve decides the ``lora-<N>`` variants."""
        return cls(
            tasks=tuple(bench.tasks),
            local_variants=tuple(V.local_variants(bench, profile)),
            lora_variants=tuple(V.lora_variants(bench, profile)),
            api_variants=tuple(V.api_variants(bench, profile)),
        )

    @property
    def all_variants(self) -> tuple[str, ...]:
        return self.local_variants + self.api_variants

    @property
    def task(self) -> dg.StaticPartitionsDefinition:
        return dg.StaticPartitionsDefinition(list(self.tasks))

    def _by_variant(self, variants: tuple[str, ...]) -> dg.MultiPartitionsDefinition:
        return dg.MultiPartitionsDefinition(
            {"task": self.task, "variant": dg.StaticPartitionsDefinition(list(variants))}
        )

    @property
    def task_x_lora(self) -> dg.MultiPartitionsDefinition:
        return self._by_variant(self.lora_variants)

    @property
    def task_x_local(self) -> dg.MultiPartitionsDefinition:
        return self._by_variant(self.local_variants)

    @property
    def task_x_api(self) -> dg.MultiPartitionsDefinition:
        return self._by_variant(self.api_variants)

    @property
    def task_x_variant(self) -> dg.MultiPartitionsDefinition:
        return self._by_variant(self.all_variants)


def same_task_subset_of_variants(variants: tuple[str, ...]) -> dg.MultiPartitionMapping:
    """Downstream ``task × V_down`` reads upstream ``task × V_up`` where the variant is the same key;
    a downstream variant absent upstream (e.g. zero-shot reading adapters) maps to nothing -> input None."""
    return dg.MultiPartitionMapping(
        {
            "task": dg.DimensionPartitionMapping("task", dg.IdentityPartitionMapping()),
            "variant": dg.DimensionPartitionMapping(
                "variant", dg.StaticPartitionMapping({v: v for v in variants})
            ),
        }
    )


def all_variants_of_task() -> dg.MultiToSingleDimensionPartitionMapping:
    """Per-task assets read every variant of their task."""
    return dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="task")


def keys_of(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """``(task, variant)`` of a multi-partitioned run."""
    key = context.partition_key
    dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else None
    if dims is None:
        raise ValueError(f"expected a task|variant partition key, got {key!r}")
    return dims["task"], dims["variant"]
