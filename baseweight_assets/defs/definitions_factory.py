"""Build the whole Definitions object from settings; ``definitions.py`` only calls this."""

from __future__ import annotations

import dagster as dg

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.defs.assets.data import build_data_assets
from baseweight_assets.defs.assets.predictions import build_prediction_assets
from baseweight_assets.defs.assets.report import build_report_assets
from baseweight_assets.defs.assets.scoring import build_scoring_assets
from baseweight_assets.defs.assets.training import build_training_assets
from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.defs.checks import build_checks
from baseweight_assets.defs.config_sources import build_config_sources, build_observe_jobs
from baseweight_assets.defs.jobs import build_stage_jobs
from baseweight_assets.defs.executors import executor_for, gpu_op_tags
from baseweight_assets.defs.hub_sync import artifact_io_managers
from baseweight_assets.defs.partitions import PartitionSpace
from baseweight_assets.defs.resources import BenchResource, LocalServerResource, ModelStoreResource
from baseweight_assets.defs.settings import Settings


def build_resources(settings: Settings) -> dict:
    return {
        "bench": BenchResource(
            repo_root=str(settings.repo_root),
            config_dir=str(settings.config_dir),
            prompts_dir=str(settings.prompts_dir),
            data_root=str(settings.data_root),
            profile=settings.profile,
            use_hub=settings.use_hub,
        ),
        "model_store": ModelStoreResource(models_cache=str(settings.models_cache)),
        "local_server": LocalServerResource(vllm_base_url=settings.vllm_base_url),
        # data_io / results_io / dashboard_io: atomic local JSON, plus Hub sync when enabled (docs/SCALING.md)
        **artifact_io_managers(settings),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    bench = load_bench_config(settings.config_dir, settings.prompts_dir)
    space = PartitionSpace.from_config(bench)
    deployment = load_deployment_config(settings.config_dir)
    gpu_tags = gpu_op_tags(deployment)
    assets = [
        *build_config_sources(space),
        *build_data_assets(space),
        *build_training_assets(space, gpu_tags),
        *build_prediction_assets(space, gpu_tags),
        *build_scoring_assets(space),
        *build_report_assets(space),
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=build_checks(space),
        resources=build_resources(settings),
        jobs=[*build_observe_jobs(), *build_stage_jobs(space)],
        executor=executor_for(settings.environment, deployment),
    )
