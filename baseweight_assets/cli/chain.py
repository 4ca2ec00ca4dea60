"""``python -m baseweight_assets.cli.chain TASK VARIANT``: the CLI materialize steps for one cell, raw data to dashboard.

The chain is derived from the stage registry and the resolved asset graph, never written out: every materialized
asset partition upstream of the cell's scores, the cell itself, and everything downstream of it (the task summary,
the dashboard), in dependency order, with assets that share a partitions definition and a partition key grouped
into one ``dagster asset materialize`` (one run covers one partitions definition). CI runs the printed commands.
"""

from __future__ import annotations

import argparse
import shlex
import sys

import dagster as dg

from baseweight_assets.cli.backfill_plan import run_order
from baseweight_assets.pipeline.stages import STAGES, Stage, materialized

Step = tuple[tuple[str, ...], str | None]  # (asset keys, partition key)


def _upstream(graph, key: dg.AssetKey, partition: str | None, out: dict, wanted: set) -> None:
    if (key, partition) in out or key not in wanted:
        return
    out[(key, partition)] = True
    node = graph.get(key)
    for parent in node.parent_keys:
        parent_def = graph.get(parent).partitions_def
        if parent_def is None:
            _upstream(graph, parent, None, out, wanted)
            continue
        mapping = graph.get_partition_mapping(key, parent)
        subset = node.partitions_def.subset_with_partition_keys([partition]) if partition else None
        mapped = mapping.get_upstream_mapped_partitions_result_for_partitions(subset, node.partitions_def, parent_def)
        for p in mapped.partitions_subset.get_partition_keys():
            _upstream(graph, parent, p, out, wanted)


def _downstream(graph, key: dg.AssetKey, partition: str | None, out: dict, wanted: set) -> None:
    node = graph.get(key)
    for child in node.child_keys:
        if child not in wanted:
            continue
        child_def = graph.get(child).partitions_def
        if child_def is None or partition is None:
            keys = [None] if child_def is None else []
        else:
            mapping = graph.get_partition_mapping(child, key)
            keys = list(mapping.get_downstream_partitions_for_partitions(
                node.partitions_def.subset_with_partition_keys([partition]), node.partitions_def,
                child_def).get_partition_keys())
        for p in keys:
            if (child, p) not in out:
                out[(child, p)] = True
                _downstream(graph, child, p, out, wanted)


def chain_steps(defs: dg.Definitions, leaf: str, partition: str, stages: tuple[Stage, ...] = STAGES) -> list[Step]:
    """Ordered CLI steps that materialize ``leaf[partition]``, its upstream and its downstream partitions."""
    graph = defs.resolve_asset_graph()
    wanted = {dg.AssetKey(s.key) for s in materialized(stages)}
    key = dg.AssetKey(leaf)
    if key not in wanted:
        raise ValueError(f"{leaf!r} is not a materialized stage (known: {sorted(k.to_user_string() for k in wanted)})")
    needed: dict = {}
    _upstream(graph, key, partition, needed, wanted)
    _downstream(graph, key, partition, needed, wanted)
    target: dict[str, list[str] | None] = {}
    for k, p in needed:
        if p is None:
            target[k.to_user_string()] = None
        else:
            target.setdefault(k.to_user_string(), []).append(p)
    return run_order(defs, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baseweight-chain", description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("variant", help="<model>__<condition>, e.g. smollm2-135m__lora-500")
    parser.add_argument("--leaf", default=None, help="the cell's asset (default: the scores asset owning the variant)")
    args = parser.parse_args(argv)
    from baseweight_assets.defs.definitions_factory import build_definitions
    from baseweight_assets.settings import Settings

    defs = build_definitions(Settings.from_env())
    cell = f"{args.task}|{args.variant}"
    leaf = args.leaf
    if leaf is None:
        graph = defs.resolve_asset_graph()
        owners = [s.key for s in materialized() if s.group == "scoring" and s.partitions and
                  cell in graph.get(dg.AssetKey(s.key)).partitions_def.get_partition_keys()]
        if not owners:
            raise SystemExit(f"no scores asset has the partition {cell!r}")
        leaf = owners[0]
    for assets, partition in chain_steps(defs, leaf, cell):
        command = ["dagster", "asset", "materialize", "-m", "baseweight_assets.definitions", "--select",
                   ",".join(assets)]
        if partition:
            command += ["--partition", partition]
        print(shlex.join(command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
