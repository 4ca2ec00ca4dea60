"""Asset-spec snapshot: asset keys double as storage paths, so renames and re-wirings must show in review.

Update deliberately with: pytest tests/wiring/test_asset_specs_snapshot.py --snapshot-update
"""

import dagster as dg


def _partitions(pdef) -> dict | None:
    if pdef is None:
        return None
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        return {d.name: len(d.partitions_def.get_partition_keys()) for d in pdef.partitions_defs}
    return {"keys": len(pdef.get_partition_keys())}


def test_asset_specs(defs, snapshot):
    graph = defs.resolve_asset_graph()
    specs = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets_def = graph.assets_def_for_key(key)
        spec = next(s for s in assets_def.specs if s.key == key)
        specs[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "pool": assets_def.op.pool if assets_def.op else None,
            "kinds": sorted(spec.kinds),
            "k8s_gpu": "nvidia.com/gpu" in str(assets_def.op.tags.get("dagster-k8s/config", "")),
            "checks": sorted(c.name for c in graph.get_check_keys_for_assets({key})),
        }
    from baseweight_assets.pipeline.stages import STAGES

    assert sorted(specs) == sorted(s.key for s in STAGES)  # the registry is the whole graph
    assert specs == snapshot
