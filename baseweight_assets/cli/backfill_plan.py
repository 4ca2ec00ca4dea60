"""Which asset partitions the main job backfills: derived from the stage registry and the resolved asset graph.

Targets are every partition of every materialized stage that belongs to the chosen tasks and models, minus the
ones the instance already holds (so a killed main job resumes where it stopped), plus everything downstream of a
target (a new cell must reach its task summary and the dashboard). ``rematerialize`` targets everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import dagster as dg

from baseweight_assets.pipeline.stages import STAGES, Stage, materialized
from baseweight_assets.variants import split_variant

Target = dict[str, list[str] | None]  # asset key -> partition keys (None: an unpartitioned asset)


@dataclass(frozen=True)
class Selection:
    tasks: tuple[str, ...]
    models: tuple[str, ...]

    def wants(self, partition: str) -> bool:
        """A partition key is ``task`` or ``task|variant`` (Dagster orders the dimensions by name)."""
        task, _, variant = partition.partition("|")
        return task in self.tasks and (not variant or split_variant(variant)[0] in self.models)


def _keys(graph, key: dg.AssetKey) -> list[str]:
    pdef = graph.get(key).partitions_def
    return list(pdef.get_partition_keys()) if pdef else []


def _downstream(graph, targets: dict[dg.AssetKey, set[str] | None]) -> None:
    """Close ``targets`` under "downstream of a target" through the graph's partition mappings (in place)."""
    for key in graph.toposorted_asset_keys:  # parents first, so a child added here is expanded in turn
        if key not in targets:
            continue
        for child in graph.get(key).child_keys:
            child_def = graph.get(child).partitions_def
            parent_def = graph.get(key).partitions_def
            if child_def is None:
                targets[child] = None
                continue
            if parent_def is None:
                targets[child] = set(child_def.get_partition_keys())
                continue
            mapping = graph.get_partition_mapping(child, key)
            mapped = mapping.get_downstream_partitions_for_partitions(
                parent_def.subset_with_partition_keys(targets[key] or ()), parent_def, child_def)
            targets.setdefault(child, set()).update(mapped.get_partition_keys())


def instance_state(instance: dg.DagsterInstance, defs: dg.Definitions) -> tuple[dict[str, set[str]], set[str]]:
    """(materialized partitions per partitioned asset, materialized unpartitioned assets) in ``instance``."""
    graph = defs.resolve_asset_graph()
    partitions: dict[str, set[str]] = {}
    unpartitioned: set[str] = set()
    for key in graph.materializable_asset_keys:
        if graph.get(key).partitions_def is None:
            if instance.get_latest_materialization_event(key) is not None:
                unpartitioned.add(key.to_user_string())
        else:
            partitions[key.to_user_string()] = set(instance.get_materialized_partitions(key))
    return partitions, unpartitioned


def plan_backfill(defs: dg.Definitions, selection: Selection, materialized_partitions: Mapping[str, set[str]],
                  materialized_unpartitioned: Iterable[str], *, rematerialize: bool = False,
                  stages: tuple[Stage, ...] = STAGES) -> Target:
    """Asset key -> partitions to backfill (missing ones, or all with ``rematerialize``), downstream-closed."""
    graph = defs.resolve_asset_graph()
    wanted = {dg.AssetKey(s.key) for s in materialized(stages)}
    done_unpartitioned = set(materialized_unpartitioned)
    targets: dict[dg.AssetKey, set[str] | None] = {}
    for key in graph.toposorted_asset_keys:
        if key not in wanted:
            continue
        if graph.get(key).partitions_def is None:
            if rematerialize or key.to_user_string() not in done_unpartitioned:
                targets[key] = None
            continue
        have = set() if rematerialize else materialized_partitions.get(key.to_user_string(), set())
        missing = {p for p in _keys(graph, key) if selection.wants(p) and p not in have}
        if missing:
            targets[key] = missing
    _downstream(graph, targets)
    for key in list(targets):
        if targets[key] is not None:
            targets[key] = {p for p in targets[key] if selection.wants(p)}
            if not targets[key]:
                del targets[key]
    return {k.to_user_string(): (sorted(v, key=_keys(graph, k).index) if v is not None else None)
            for k, v in targets.items() if k in wanted}


def to_ranges(keys: list[str], order: list[str]) -> list[dict]:
    """GraphQL partition ranges covering exactly ``keys``: runs of consecutive keys in the definition's order.

    A range over two dimensions is a rectangle (``task`` × ``variant`` interval), so multi-partition keys are
    grouped by task first; a run never crosses tasks.
    """
    position = {k: i for i, k in enumerate(order)}
    ranges: list[dict] = []
    for key in sorted(keys, key=position.__getitem__):
        last = ranges[-1] if ranges else None
        same_task = last is not None and last["end"].split("|")[0] == key.split("|")[0]
        if last is not None and same_task and position[key] == position[last["end"]] + 1:
            last["end"] = key
        else:
            ranges.append({"start": key, "end": key})
    return ranges


def graphql_params(defs: dg.Definitions, target: Target, title: str, tags: dict[str, str]) -> dict:
    """``LaunchBackfillParams`` for the UI's own mutation (``launchPartitionBackfill``)."""
    graph = defs.resolve_asset_graph()
    by_assets = []
    for key, partitions in target.items():
        entry: dict = {"assetKey": {"path": [key]}}
        if partitions is not None:
            entry["partitions"] = {"ranges": to_ranges(partitions, _keys(graph, dg.AssetKey(key)))}
        by_assets.append(entry)
    return {"partitionsByAssets": by_assets, "title": title,
            "tags": [{"key": k, "value": v} for k, v in tags.items()]}


def count(target: Target) -> int:
    return sum(1 if v is None else len(v) for v in target.values())


def run_order(defs: dg.Definitions, target: Target) -> list[tuple[tuple[str, ...], str | None]]:
    """The target as runs in dependency order, grouped the way an asset backfill groups them: an asset joins the run
    of a parent that has the same partitions definition and partition key (raw data and its prepared splits; a
    cell's predictions and its scores); anything else starts a run of its own."""
    graph = defs.resolve_asset_graph()
    runs: list[tuple[list[str], str | None, str]] = []  # (assets, partition, partitions-definition identity)
    for key in graph.toposorted_asset_keys:
        name = key.to_user_string()
        if name not in target:
            continue
        pdef = graph.get(key).partitions_def
        same = pdef.get_serializable_unique_identifier() if pdef else ""
        parents = {p.to_user_string() for p in graph.get(key).parent_keys}
        for partition in target[name] if target[name] is not None else [None]:
            run = next((r for r in runs if r[1] == partition and r[2] == same and parents & set(r[0])), None)
            if run is None:
                runs.append(([name], partition, same))
            else:
                run[0].append(name)
    return [(tuple(assets), partition) for assets, partition, _ in runs]
