"""JSON artifacts under a base path (local disk by default), written atomically.

Layout (UPathIOManager's): ``<base>/<asset>/<task>.json`` and ``<base>/<asset>/<task>/<variant>.json``.
Three instances split the repo's gitignored areas: ``data/``, ``results/`` and ``dashboard-data/``,
each with a ``smoke/`` segment under the smoke profile.

Every value is checked against its stage's record (``Stage.record``, ``pipeline/records.py``) before it is
written: a mismatch fails the step with the asset, the partition and the field's JSON path, and nothing is written.
The stage is the registry's declaration of the asset (same key and group); an asset outside the registry (a test
double, a test-only stage) is written unchecked.

Fan-ins (an input whose ``AssetIn`` metadata sets ``FAN_IN``) are always a mapping ``partition key -> value``:
UPathIOManager hands a single upstream partition over as the bare value, so a project with one task (or a cell
with one variant) would otherwise break every consumer written for many.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
from upath import UPath

from baseweight_assets.pipeline.records import RecordError, check_record
from baseweight_assets.pipeline.stages import STAGES, Stage, stage
from baseweight_assets.storage.atomic import write_json


FAN_IN = "baseweight/fan_in"


class JsonArtifactIOManager(dg.UPathIOManager):
    """JSON values at UPathIOManager's paths under one area of the layout (``paths.ProjectPaths``)."""

    extension: str = ".json"
    stages: tuple[Stage, ...] = STAGES  # the registry whose records are checked

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        record = self.record_of(context)
        if record is not None:
            label = context.asset_key.to_user_string()
            if context.has_partition_key:
                label += f"[{context.partition_key}]"
            try:
                check_record(record, obj, label)
            except RecordError as exc:
                raise dg.Failure(description=str(exc), metadata={"record": record, "issues": dg.MetadataValue.json(
                    [{"path": path, "message": message} for path, message in exc.issues])}) from None
        super().handle_output(context, obj)

    def record_of(self, context: dg.OutputContext) -> str | None:
        """The record of the stage that declares this asset, or None (not the registry's asset, or no record)."""
        if not context.has_asset_key or len(context.asset_key.path) != 1:
            return None
        try:
            declared = stage(context.asset_key.path[0], self.stages)
        except KeyError:
            return None
        if declared.record is None or context.asset_spec.group_name != declared.group:
            return None
        return declared.record

    def load_input(self, context: dg.InputContext) -> Any:
        if (context.definition_metadata or {}).get(FAN_IN) and context.has_asset_partitions:
            if not context.asset_partition_keys:
                return {}
            if len(context.asset_partition_keys) == 1:
                key = context.asset_partition_keys[0]
                value = super().load_input(context)
                return {} if value is None else {key: value}
        return super().load_input(context)

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        if path.protocol in ("", "file", "local"):
            write_json(path, obj)
        else:  # remote filesystems (hf://, s3://): their own commit is the atomic step
            with path.open("w") as fh:
                json.dump(obj, fh, ensure_ascii=False)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        with path.open("r") as fh:
            return json.load(fh)

    def make_directory(self, path: UPath) -> None:
        if path.protocol in ("", "file", "local"):
            path.mkdir(parents=True, exist_ok=True)


class JsonArtifactIOManagerFactory(dg.ConfigurableIOManagerFactory):
    base_path: str

    def create_io_manager(self, context: dg.InitResourceContext) -> JsonArtifactIOManager:
        return JsonArtifactIOManager(base_path=UPath(self.base_path))
