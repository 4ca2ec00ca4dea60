"""JSON artifacts under a base path (local disk by default), written atomically.

Layout (UPathIOManager's): ``<base>/<asset>/<task>.json`` and ``<base>/<asset>/<task>/<variant>.json``.
Three instances split the repo's gitignored areas: ``data/``, ``results/`` and ``dashboard-data/``,
each with a ``smoke/`` segment under the smoke profile.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
from upath import UPath

from baseweight_assets.storage.atomic import write_json


class JsonArtifactIOManager(dg.UPathIOManager):
    extension: str = ".json"

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
