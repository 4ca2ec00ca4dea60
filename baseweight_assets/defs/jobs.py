"""One asset job per stage, so the CLI can backfill many partitions of a stage:
``dagster job backfill -m baseweight_assets.definitions -j predict_local --partitions "fpb|smollm2-135m__zero-shot,..."``
(a job covers one partitions definition; run stages in order, or use an asset backfill from the UI)."""

import dagster as dg

from baseweight_assets.defs.partitions import PartitionSpace


def build_stage_jobs(space: PartitionSpace) -> list:
    stages = [
        ("prepare_data", ["raw_dataset", "prepared_splits"], space.task),
        ("train_adapters", ["lora_adapter"], space.task_x_lora),
        ("predict_local", ["local_predictions"], space.task_x_local),
        ("predict_api", ["api_predictions"], space.task_x_api),
        ("score", ["scores"], space.task_x_variant),
        ("summarize", ["task_summary"], space.task),
    ]
    return [
        dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys), partitions_def=pdef,
                            description=f"Stage job for backfills of {', '.join(keys)}.")
        for name, keys, pdef in stages
    ] + [dg.define_asset_job("publish_dashboard", selection=dg.AssetSelection.assets("dashboard_data", "dashboard_site"))]
