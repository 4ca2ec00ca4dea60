"""Offline loaders, one module per file format; ``LOADERS`` maps ``source.offline.loader`` to a ``LoaderSpec``.

A loader reads its files and returns ``Loaded``: canonical rows of the task's kind per split (the row shapes in
``baseweight_assets.tasks``), the files it read, and the label names when the task has a closed label set.
Everything specific to one dataset's files lives in its loader module; how the splits then become pools is
configuration (``pools`` in configs/tasks/*.yaml). A new format = one module + one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.sources import csv_jsonl, cuad, fpb, ledgar, mbpp, medmcqa
from baseweight_assets.data.sources.loaded import Loaded, NoOptions

HubRows = dict[str, list[dict]]


@dataclass(frozen=True)
class LoaderSpec:
    """``load(task, folder, options) -> Loaded``; ``options``: the pydantic model ``source.offline.options`` must
    fit (checked when the configs load); ``from_hub``: turns the Hub's rows of the same dataset into the same
    canonical rows (None: the Hub rows already are)."""

    load: Callable[[TaskConfig, Path, BaseModel], Loaded]
    options: type[BaseModel] = NoOptions
    from_hub: Callable[[HubRows], HubRows] | None = None


LOADERS: dict[str, LoaderSpec] = {
    "csv": LoaderSpec(csv_jsonl.load_csv),
    "jsonl": LoaderSpec(csv_jsonl.load_jsonl),
    "cuad": LoaderSpec(cuad.load, cuad.Options, cuad.from_hub),
    "fpb": LoaderSpec(fpb.load, fpb.Options, fpb.from_hub),
    "ledgar": LoaderSpec(ledgar.load, ledgar.Options),
    "mbpp": LoaderSpec(mbpp.load, from_hub=mbpp.from_hub),
    "medmcqa": LoaderSpec(medmcqa.load, from_hub=medmcqa.from_hub),
}

__all__ = ["LOADERS", "LoaderSpec", "Loaded", "NoOptions"]
