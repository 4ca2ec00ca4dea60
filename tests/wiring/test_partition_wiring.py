"""Partition wiring: `dagster definitions validate` passes mis-wired mappings, so we check them here.

For every asset and each parent, map ALL downstream partitions upstream and require that every upstream
key they need exists; then spot-check the mappings that carry meaning.
"""

import dagster as dg
import pytest

from baseweight_assets.config import load_bench_config
from baseweight_assets.defs.partitions import PartitionSpace, same_task_subset_of_variants


def _wiring_errors(defs: dg.Definitions) -> list[str]:
    graph = defs.resolve_asset_graph()
    errors = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        down_def = node.partitions_def
        for parent in node.parent_keys:
            up_def = graph.get(parent).partitions_def
            if up_def is None:
                continue
            mapping = graph.get_partition_mapping(key, parent)
            subset = down_def.subset_with_all_partitions() if down_def else None
            result = mapping.get_upstream_mapped_partitions_result_for_partitions(subset, down_def, up_def)
            missing = list(result.required_but_nonexistent_subset.get_partition_keys())
            if missing:
                errors.append(f"{key.to_user_string()} <- {parent.to_user_string()}: {len(missing)} missing, e.g. {missing[:3]}")
    return errors


def test_repo_graph_has_no_missing_upstream_partitions(defs):
    assert _wiring_errors(defs) == []


def test_wiring_check_catches_a_broken_mapping():
    up_def = dg.StaticPartitionsDefinition(["a"])

    @dg.asset(partitions_def=up_def)
    def up():
        return 1

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["b"]))
    def down(up):
        return up

    errors = _wiring_errors(dg.Definitions(assets=[up, down]))
    assert errors and "down <- up" in errors[0]


def test_partition_keys_follow_configs(defs, repo_root):
    bench = load_bench_config(repo_root / "configs")
    space = PartitionSpace.from_config(bench, "smoke")
    graph = defs.resolve_asset_graph()
    task_keys = graph.get(dg.AssetKey("raw_dataset")).partitions_def.get_partition_keys()
    assert sorted(task_keys) == sorted(bench.tasks)
    lora_keys = graph.get(dg.AssetKey("lora_adapter")).partitions_def.get_partition_keys()
    assert "banking77|smollm2-135m__lora-8" in lora_keys and "banking77|smollm2-135m__lora-full" in lora_keys
    assert not any("gpt-5.4" in k for k in lora_keys), "API models never train"
    api_keys = graph.get(dg.AssetKey("api_predictions")).partitions_def.get_partition_keys()
    assert len(api_keys) == len(bench.tasks) * 4  # 2 API models x zero-shot, 5-shot
    for scores, predictions in (("local_scores", "local_predictions"), ("api_scores", "api_predictions")):
        # a cell's scores share its predictions' partitions, so one backfill run materializes both
        assert graph.get(dg.AssetKey(scores)).partitions_def == graph.get(dg.AssetKey(predictions)).partitions_def
    score_keys = {k for a in ("local_scores", "api_scores")
                  for k in graph.get(dg.AssetKey(a)).partitions_def.get_partition_keys()}
    assert len(score_keys) == len(bench.tasks) * len(space.all_variants)


@pytest.mark.parametrize(
    "downstream_variant,expected",
    [("smollm2-135m__lora-4", ["cuad|smollm2-135m__lora-4"]), ("smollm2-135m__zero-shot", [])],
)
def test_adapter_mapping_feeds_only_lora_variants(defs, downstream_variant, expected):
    graph = defs.resolve_asset_graph()
    down_def = graph.get(dg.AssetKey("local_predictions")).partitions_def
    up_def = graph.get(dg.AssetKey("lora_adapter")).partitions_def
    mapping = graph.get_partition_mapping(dg.AssetKey("local_predictions"), dg.AssetKey("lora_adapter"))
    subset = down_def.empty_subset().with_partition_keys([f"cuad|{downstream_variant}"])
    result = mapping.get_upstream_mapped_partitions_result_for_partitions(subset, down_def, up_def)
    assert sorted(result.partitions_subset.get_partition_keys()) == expected


def test_task_summary_reads_every_variant_of_its_task(defs):
    graph = defs.resolve_asset_graph()
    keys = [k for scores in ("local_scores", "api_scores") for k in graph.get_parent_partition_keys_for_child(
        "fpb", dg.AssetKey(scores), dg.AssetKey("task_summary")).partitions_subset.get_partition_keys()]
    assert keys and all(k.startswith("fpb|") for k in keys)
    assert "fpb|gpt-5.4-nano__5-shot" in keys and "fpb|smollm2-135m__lora-full" in keys


def test_static_mapping_helper_is_identity_on_task():
    mapping = same_task_subset_of_variants(("m__lora-500",))
    assert isinstance(mapping, dg.MultiPartitionMapping)


def test_stage_jobs_cover_the_graph_for_cli_backfills(defs):
    """`dagster job backfill -j <stage>` needs one job per partitions definition; together the registry's stage jobs
    cover every materializable asset."""
    from baseweight_assets.pipeline.stages import jobs

    graph = defs.resolve_asset_graph()
    covered = set()
    for name, stages in jobs().items():
        if stages[0].observed:
            continue
        job = defs.resolve_job_def(name)
        keys = job.asset_layer.executable_asset_keys if hasattr(job.asset_layer, "executable_asset_keys") else \
            job.asset_layer.asset_keys
        pdefs = {graph.get(k).partitions_def for k in keys}
        assert len(pdefs) == 1, f"{name} mixes partitions definitions"
        assert job.partitions_def == next(iter(pdefs))
        covered |= set(keys)
    materializable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert materializable <= covered
