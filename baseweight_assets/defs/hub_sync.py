"""Hub sync on the Dagster side: IO managers that push each materialized partition in one commit and pull
a partition that is missing locally instead of recomputing it. Switched on by ``hub.enabled`` in
``configs/deployment.yaml`` plus ``HF_TOKEN`` (or ``BASEWEIGHT_HUB_MIRROR``, a local-folder target)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from upath import UPath

from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.defs.io_managers import JsonArtifactIOManager
from baseweight_assets.defs.settings import Settings
from baseweight_assets.hub.layout import ADAPTER_ASSET, SYNCED_ASSETS, ArtifactKey
from baseweight_assets.hub.redaction import HubSyncError
from baseweight_assets.hub.sync import HubSync
from baseweight_assets.hub.targets import HubTarget, LocalDirTarget
from baseweight_assets.paths import ProjectPaths

MIRROR_ENV = "BASEWEIGHT_HUB_MIRROR"


class HubSyncResource(dg.ConfigurableResource):
    """Which Hub (or local mirror) to sync with; ``token`` is an ``EnvVar`` so its value never reaches run config."""

    enabled: bool = False
    config_dir: str
    prompts_dir: str
    token: str | None = None
    mirror_dir: str | None = None

    def client(self, log=lambda _m: None) -> HubSync | None:
        if not self.enabled:
            return None
        hub = load_deployment_config(Path(self.config_dir)).hub
        if self.mirror_dir:
            target = LocalDirTarget(Path(self.mirror_dir))
        elif self.token:
            target = HubTarget.from_token(self.token, revision=hub.revision)
        else:
            raise dg.Failure(f"hub sync is enabled but {hub.token_env} is not set")
        bench = load_bench_config(Path(self.config_dir), Path(self.prompts_dir))
        base_models = {m.id: m.hf_id for m in bench.models.values() if m.hf_id}
        return HubSync(target, hub, base_models=base_models, log=log)


class HubSyncedJsonIOManager(JsonArtifactIOManager):
    """The JSON artifact IO manager plus Hub push after each local (atomic) write and pull before a load."""

    def __init__(self, base_path: UPath, profile: str, sync: HubSync | None, adapters_dir: Path | None = None):
        super().__init__(base_path=base_path)
        self.profile = profile
        self.sync = sync
        self.adapters_dir = adapters_dir

    def _key(self, path: UPath) -> ArtifactKey:
        """``<base>/<asset>/<task>[/<variant>].json`` -> the artifact (the IO manager's own layout, read back)."""
        rel = Path(str(path)).relative_to(Path(str(self._base_path))).with_suffix("")
        asset, *parts = rel.parts
        return ArtifactKey(asset, "|".join(parts) or None, self.profile)

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        super().dump_to_path(context, obj, path)
        if self.sync is None or not isinstance(obj, dict):
            return
        key = self._key(path)
        try:
            oid = self.sync.push(key, Path(str(path)), obj)
        except HubSyncError as exc:
            # The local artifact is written and stays valid; the step succeeds and says so in its metadata.
            context.log.error(f"hub sync failed for {key.label}: {exc}")
            context.add_output_metadata({"hub_commit": f"FAILED: {exc}"[:300]})
            return
        if oid:
            context.add_output_metadata({"hub_commit": oid})

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        if self.sync is not None and not path.exists():
            key = self._key(path)
            adapter_dir = None
            if key.asset == ADAPTER_ASSET and self.adapters_dir is not None and len(key.parts) == 2:
                adapter_dir = self.adapters_dir / key.parts[0] / key.parts[1]
            if self.sync.pull(key, Path(str(path)), adapter_dir=adapter_dir):
                context.log.info(f"{key.label} was missing locally; pulled from the Hub instead of recomputing")
        return super().load_from_path(context, path)


class HubSyncedJsonIOManagerFactory(dg.ConfigurableIOManagerFactory):
    base_path: str
    profile: str = "smoke"
    adapters_dir: str | None = None
    hub: HubSyncResource

    def create_io_manager(self, context: dg.InitResourceContext) -> HubSyncedJsonIOManager:
        log = context.log.info if context.log else (lambda _m: None)
        return HubSyncedJsonIOManager(
            base_path=UPath(self.base_path), profile=self.profile, sync=self.hub.client(log),
            adapters_dir=Path(self.adapters_dir) if self.adapters_dir else None,
        )


def hub_sync_resource(settings: Settings, env: Mapping[str, str] | None = None) -> HubSyncResource:
    env = os.environ if env is None else env
    hub = load_deployment_config(settings.config_dir).hub
    mirror = env.get(MIRROR_ENV) or None
    has_token = bool(env.get(hub.token_env))
    return HubSyncResource(
        enabled=hub.enabled and (has_token or bool(mirror)),
        config_dir=str(settings.config_dir),
        prompts_dir=str(settings.prompts_dir),
        token=dg.EnvVar(hub.token_env) if has_token and not mirror else None,
        mirror_dir=mirror,
    )


def artifact_io_managers(settings: Settings, env: Mapping[str, str] | None = None) -> dict:
    """``data_io``/``results_io``/``dashboard_io`` for ``build_resources``; without Hub sync they behave
    exactly like ``JsonArtifactIOManagerFactory``."""
    paths = ProjectPaths(settings.repo_root, settings.profile)
    hub = hub_sync_resource(settings, env)
    common = {"profile": settings.profile, "hub": hub}
    return {
        "data_io": HubSyncedJsonIOManagerFactory(base_path=str(paths.data), **common),
        "results_io": HubSyncedJsonIOManagerFactory(base_path=str(paths.results),
                                                    adapters_dir=str(paths.results / "adapters"), **common),
        "dashboard_io": HubSyncedJsonIOManagerFactory(base_path=str(paths.dashboard), **common),
    }


def hydrate_from_hub(defs: dg.Definitions, instance: dg.DagsterInstance, assets: tuple[str, ...] = SYNCED_ASSETS,
                     log=print) -> dict[str, list[str]]:
    """On a fresh machine: pull every partition the instance lacks but the Hub has, and record it as
    materialized (a runless event tagged ``baseweight/source=hub``), so "Materialize missing" and backfills
    continue where the last machine stopped instead of recomputing. Returns the pulled partitions per asset."""
    pulled: dict[str, list[str]] = {}
    for name in assets:
        key = dg.AssetKey(name)
        if key not in _asset_keys(defs):  # e.g. a code location without the report stage
            continue
        asset = defs.resolve_assets_def(name)
        factory = defs.resources[asset.get_io_manager_key_for_asset_key(key)]
        sync = factory.hub.client(log)
        if sync is None:
            continue
        base = Path(factory.base_path)
        if asset.partitions_def:
            have = instance.get_materialized_partitions(key)
            wanted = [p for p in asset.partitions_def.get_partition_keys() if p not in have]
        else:
            wanted = [] if instance.get_latest_materialization_event(key) else [None]
        for partition in wanted:
            artifact = ArtifactKey(name, partition, factory.profile)
            path = base.joinpath(name, *artifact.parts[:-1], f"{artifact.parts[-1]}.json") if artifact.parts \
                else base / f"{name}.json"
            adapter_dir = None
            if name == ADAPTER_ASSET and factory.adapters_dir:
                adapter_dir = Path(factory.adapters_dir).joinpath(*artifact.parts)
            if sync.pull(artifact, path, adapter_dir=adapter_dir):
                instance.report_runless_asset_event(dg.AssetMaterialization(
                    asset_key=key, partition=partition, tags={"baseweight/source": "hub"},
                    metadata={"path": dg.MetadataValue.path(str(path))},
                ))
                pulled.setdefault(name, []).append(str(partition))
    return pulled


def _asset_keys(defs: dg.Definitions) -> set[dg.AssetKey]:
    return {k for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) for k in a.keys}


if __name__ == "__main__":  # python -m baseweight_assets.defs.hub_sync  (uses DAGSTER_HOME and BASEWEIGHT_*)
    from baseweight_assets.definitions import defs as _defs

    with dg.DagsterInstance.get() as _instance:
        _pulled = hydrate_from_hub(_defs, _instance)
    print({asset: len(keys) for asset, keys in _pulled.items()} or "nothing to pull (sync off, or nothing missing)")
