"""Build the whole Definitions object from settings; ``definitions.py`` only calls this."""

from __future__ import annotations

import dagster as dg

from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.defs.assets.data import build_data_assets
from baseweight_assets.defs.assets.predictions import build_prediction_assets
from baseweight_assets.defs.assets.report import build_report_assets
from baseweight_assets.defs.assets.scoring import build_scoring_assets
from baseweight_assets.defs.assets.training import build_training_assets
from baseweight_assets.defs.checks import build_checks
from baseweight_assets.defs.executors import executor_for
from baseweight_assets.defs.io_managers import JsonArtifactIOManagerFactory
from baseweight_assets.defs.partitions import PartitionSpace
from baseweight_assets.defs.resources import BenchResource, LocalServerResource, ModelStoreResource
from baseweight_assets.defs.settings import Settings
from baseweight_assets.paths import ProjectPaths


def build_resources(settings: Settings) -> dict:
    paths = ProjectPaths(settings.repo_root, settings.profile)
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
        "local_server": LocalServerResource(),
        "data_io": JsonArtifactIOManagerFactory(base_path=str(paths.data)),
        "results_io": JsonArtifactIOManagerFactory(base_path=str(paths.results)),
        "dashboard_io": JsonArtifactIOManagerFactory(base_path=str(paths.dashboard)),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    bench = load_bench_config(settings.config_dir, settings.prompts_dir)
    space = PartitionSpace.from_config(bench)
    assets = [
        *build_data_assets(space),
        *build_training_assets(space),
        *build_prediction_assets(space),
        *build_scoring_assets(space),
        *build_report_assets(space),
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=build_checks(space),
        resources=build_resources(settings),
        executor=executor_for(settings.environment),
    )
