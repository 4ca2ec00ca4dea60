"""Hub sync on the Dagster side: IO managers that push each materialized partition in one commit and pull
a partition that is missing locally instead of recomputing it. Switched on by ``hub.enabled`` in
``configs/deployment.yaml`` plus ``HF_TOKEN`` (or ``BASEWEIGHT_HUB_MIRROR``, a local-folder target).

A push that still fails after its retries never fails the step (the local artifact is written and valid) and is
never silent: the materialization says ``hub_sync: failed: <reason>``, the ``hub_sync`` check built by
``hub_sync_check`` fails, and ``hub_sync_failures(settings)`` gives the run summary one line per such artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from upath import UPath

from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.config.loader import load_bench_config
from baseweight_assets.defs.io_managers import JsonArtifactIOManager
from baseweight_assets.defs.resources import LayoutResource
from baseweight_assets.settings import Settings
from baseweight_assets.hub.errors import HubSyncError
from baseweight_assets.hub.layout import SYNCED_ASSETS, ArtifactKey
from baseweight_assets.hub.records import failed_pushes
from baseweight_assets.hub.sync import FAILED_PREFIX, HubSync, sync_failure
from baseweight_assets.hub.targets import HubTarget, LocalDirTarget
from baseweight_assets.paths import ProjectPaths

class HubSyncResource(dg.ConfigurableResource):
    """Which Hub (or local mirror) to sync with; ``token`` is an ``EnvVar`` so its value never reaches run config."""

    enabled: bool = False
    config_dir: str
    prompts_dir: str
    token: str | None = None
    mirror_dir: str | None = None
    synced_assets: list[str] = list(SYNCED_ASSETS)

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
        return HubSync(target, hub, base_models=base_models, log=log, synced=self.synced_assets)


class HubSyncedJsonIOManager(JsonArtifactIOManager):
    """The JSON artifact IO manager plus Hub push after each local (atomic) write and pull before a load."""

    def __init__(self, base_path: UPath, profile: str, sync: HubSync | None):
        super().__init__(base_path=base_path)
        self.profile = profile
        self.sync = sync

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
        if not self.sync.syncs(key.asset):
            return
        try:
            result = self.sync.push(key, Path(str(path)), obj)
        except HubSyncError as exc:
            # The local artifact is written and stays valid: the step succeeds, and says loudly that it is not on
            # the Hub (metadata here, the hub_sync check, the run summary's hub_sync_failures).
            context.log.error(f"hub sync failed for {key.label}: {exc}")
            context.add_output_metadata({"hub_sync": f"{FAILED_PREFIX}{exc}"[:1000]})
            return
        metadata = {"hub_sync": result.summary}
        if result.commit:
            metadata["hub_commit"] = result.commit
        context.add_output_metadata(metadata)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        if self.sync is not None and not path.exists():
            key = self._key(path)
            if self.sync.pull(key, Path(str(path))):
                context.log.info(f"{key.label} was missing locally; pulled from the Hub instead of recomputing")
        return super().load_from_path(context, path)


class HubSyncedJsonIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """One area (``data``, ``results`` or ``dashboard``) of the layout the assets write to (``LayoutResource``)."""

    area: str
    layout: LayoutResource
    hub: HubSyncResource

    @property
    def profile(self) -> str:
        return self.layout.profile

    def base_dir(self) -> Path:
        return getattr(self.layout.paths, self.area)

    def create_io_manager(self, context: dg.InitResourceContext) -> HubSyncedJsonIOManager:
        log = context.log.info if context.log else (lambda _m: None)
        return HubSyncedJsonIOManager(base_path=UPath(str(self.base_dir())), profile=self.profile,
                                      sync=self.hub.client(log))


def hub_sync_resource(settings: Settings, *,
                      synced_assets: tuple[str, ...] | list[str] = SYNCED_ASSETS) -> HubSyncResource:
    hub = load_deployment_config(settings.config_dir).hub
    mirror = str(settings.hub_mirror) if settings.hub_mirror else None
    has_token = settings.has_secret(hub.token_env)
    return HubSyncResource(
        enabled=hub.enabled and (has_token or bool(mirror)),
        config_dir=str(settings.config_dir),
        prompts_dir=str(settings.prompts_dir),
        token=dg.EnvVar(hub.token_env) if has_token and not mirror else None,
        mirror_dir=mirror,
        synced_assets=list(synced_assets),
    )


def layout_resource(settings: Settings) -> LayoutResource:
    return LayoutResource(repo_root=str(settings.repo_root), profile=settings.profile)


def artifact_io_managers(settings: Settings, *, synced_assets: tuple[str, ...] | list[str] = SYNCED_ASSETS) -> dict:
    """``data_io``/``results_io``/``dashboard_io`` for ``build_resources``, each one area of the same layout;
    without Hub sync they behave exactly like ``JsonArtifactIOManagerFactory``. ``synced_assets``: which assets
    push and pull."""
    common = {"layout": layout_resource(settings), "hub": hub_sync_resource(settings, synced_assets=synced_assets)}
    return {f"{area}_io": HubSyncedJsonIOManagerFactory(area=area, **common)
            for area in ("data", "results", "dashboard")}


def hub_sync_failures(settings: Settings) -> list[str]:
    """For the run summary: one line per local artifact of this profile whose last Hub push failed and has not
    succeeded since (``hub sync failed: <asset>[<partition>] (<profile>): <reason>``); [] when sync is off."""
    paths = ProjectPaths(settings.repo_root, settings.profile)
    return failed_pushes(paths.data, paths.results, paths.dashboard)


def hub_sync_check(asset: str, partitions_def: dg.PartitionsDefinition | None = None) -> dg.AssetChecksDefinition:
    """A non-blocking ``hub_sync`` check on ``asset``: it fails (severity ERROR) when the partition's latest
    materialization says ``hub_sync: failed: ...``, and passes otherwise (pushed, up to date, superseded by a
    newer copy on the Hub, or sync off). Attach one per synced asset, with that asset's partitions."""

    @dg.asset_check(asset=asset, name="hub_sync", partitions_def=partitions_def, blocking=False,
                    description="The partition's latest materialization reached the Hub (or sync is off).")
    def _hub_sync(context) -> dg.AssetCheckResult:  # (no annotation: this module has postponed annotations)
        partition = context.partition_key if partitions_def is not None else None
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None),
            limit=1, ascending=False,
        ).records
        metadata = records[0].asset_materialization.metadata if records and records[0].asset_materialization else {}
        failure = sync_failure(metadata)
        state = getattr(metadata.get("hub_sync"), "value", None) or "hub sync off"
        return dg.AssetCheckResult(
            passed=failure is None, severity=dg.AssetCheckSeverity.ERROR,
            description=f"not on the Hub: {failure}" if failure else str(state),
            metadata={"hub_sync": str(state)[:1000]},
        )

    return _hub_sync


def hydrate_from_hub(defs: dg.Definitions, instance: dg.DagsterInstance, assets: tuple[str, ...] = SYNCED_ASSETS,
                     log=print, refused: list[str] | None = None) -> dict[str, list[str]]:
    """On a fresh machine: pull every partition the instance lacks but the Hub has, and record it as
    materialized (a runless event tagged ``baseweight/source=hub``), so "Materialize missing" and backfills
    continue where the last machine stopped instead of recomputing. A local copy newer than the Hub's is kept
    (and not recorded); a Hub copy that fails verification is refused, logged and appended to ``refused``
    (``"<asset>[<partition>]: <reason>"``) while the other partitions go on. Returns the pulled partitions per asset."""
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
        base = factory.base_dir()
        if asset.partitions_def:
            have = instance.get_materialized_partitions(key)
            wanted = [p for p in asset.partitions_def.get_partition_keys() if p not in have]
        else:
            wanted = [] if instance.get_latest_materialization_event(key) else [None]
        for partition in wanted:
            artifact = ArtifactKey(name, partition, factory.profile)
            path = base.joinpath(name, *artifact.parts[:-1], f"{artifact.parts[-1]}.json") if artifact.parts \
                else base / f"{name}.json"
            try:
                got = sync.pull(artifact, path)
            except HubSyncError as exc:
                log(f"hub: refused {artifact.label}: {exc}")
                if refused is not None:
                    refused.append(f"{artifact.label}: {exc}")
                continue
            if got:
                instance.report_runless_asset_event(dg.AssetMaterialization(
                    asset_key=key, partition=partition, tags={"baseweight/source": "hub"},
                    metadata={"path": dg.MetadataValue.path(str(path)), "hub_sync": "pulled"},
                ))
                pulled.setdefault(name, []).append(str(partition))
    return pulled


def _asset_keys(defs: dg.Definitions) -> set[dg.AssetKey]:
    return {k for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) for k in a.keys}


if __name__ == "__main__":  # python -m baseweight_assets.defs.hub_sync  (uses DAGSTER_HOME and BASEWEIGHT_*)
    from baseweight_assets.definitions import defs as _defs

    _refused: list[str] = []
    with dg.DagsterInstance.get() as _instance:
        _pulled = hydrate_from_hub(_defs, _instance, refused=_refused)
    print({asset: len(keys) for asset, keys in _pulled.items()} or "nothing to pull (sync off, or nothing missing)")
    if _refused:
        print(f"refused {len(_refused)} partition(s):", *_refused, sep="\n  ")
        raise SystemExit(1)
