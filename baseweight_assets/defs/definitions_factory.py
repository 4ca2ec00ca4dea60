"""Build the whole Definitions object from settings and the stage registry; ``definitions.py`` only calls this."""

from __future__ import annotations

import dagster as dg

from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.defs.executors import executor_for, gpu_op_tags, sandbox_op_tags
from baseweight_assets.defs.hub_sync import artifact_io_managers, layout_resource
from baseweight_assets.defs.partitions import PartitionSpace
from baseweight_assets.defs.resources import BackendsResource, BenchResource, ModelStoreResource
from baseweight_assets.defs.stage_wiring import BuildContext, build_stages, stage_jobs
from baseweight_assets.pipeline.stages import STAGES, Stage, synced_assets
from baseweight_assets.settings import Settings


def build_resources(settings: Settings, stages: tuple[Stage, ...] = STAGES) -> dict:
    return {
        "bench": BenchResource(
            repo_root=str(settings.repo_root),
            config_dir=str(settings.config_dir),
            prompts_dir=str(settings.prompts_dir),
            data_root=str(settings.data_root),
            profile=settings.profile,
            use_hub=settings.use_hub,
            hardware_override=settings.hardware_override,
            allow_unsandboxed_code=settings.allow_unsandboxed_code,
        ),
        "layout": layout_resource(settings),
        "model_store": ModelStoreResource(models_cache=str(settings.models_cache)),
        "backends": BackendsResource(
            api_mode=settings.api_mode, vllm_base_url=settings.vllm_base_url, main_run_id=settings.main_run_id,
            live_key_envs=sorted(name for name in settings.secret_names() if name.endswith("_API_KEY")),
        ),
        # data_io / results_io / dashboard_io: atomic local JSON, plus Hub sync when enabled (docs/SCALING.md)
        **artifact_io_managers(settings, synced_assets=synced_assets(stages)),
    }


def build_definitions(settings: Settings, stages: tuple[Stage, ...] = STAGES) -> dg.Definitions:
    bench = load_bench_config(settings.config_dir, settings.prompts_dir)
    deployment = load_deployment_config(settings.config_dir)
    ctx = BuildContext(space=PartitionSpace.from_config(bench, settings.profile), gpu_op_tags=gpu_op_tags(deployment),
                       sandbox_op_tags=sandbox_op_tags(deployment))
    assets, checks = build_stages(stages, ctx)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        resources=build_resources(settings, stages),
        jobs=stage_jobs(stages, ctx),
        executor=executor_for(settings.environment, deployment),
    )
