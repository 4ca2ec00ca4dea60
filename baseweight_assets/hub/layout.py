"""Where each artifact lives on the Hub: JSON artifacts in a dataset repo, adapters in a model repo per model and task.

An adapter repo (one per base model, task and profile) holds every training seed's adapter folder of every
``lora-<N>`` cell of its model and task, each under its content address ``adapters/<adapter_key>/``
(``training.cell.adapter_key``, the same folder name as under ``ProjectPaths.adapters`` on every machine), so a
folder two cells share (identical training inputs) is stored and pushed once. Each cell's asset value and sync
record live beside them under ``baseweight/<condition>/``, and ``baseweight/index.json`` lists what the repo holds
(the model card is written from it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.paths import ProjectPaths
from baseweight_assets.pipeline.stages import synced_assets
from baseweight_assets.variants import split_variant

RepoType = Literal["dataset", "model"]

# Which assets sync is declared in the stage registry (raw_dataset, a copy of the licensed source, stays local).
SYNCED_ASSETS = synced_assets()
ADAPTER_ASSET = "lora_adapter"
ADAPTER_INDEX_PATH = "baseweight/index.json"  # what an adapter repo holds: folders by address, cells by condition
STAMP_ROOT = "baseweight-sync"                # sync records of the dataset repo's JSON artifacts
_HUB_NAME_MAX = 96
_P = ProjectPaths(Path("/"), "full")
# Adapter folders relative to the results folder (the lora_adapter IO manager's base), on the Hub and on disk alike.
ADAPTERS_DIR = _P.adapters.relative_to(_P.results).as_posix()
_ADDRESS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def adapter_address_ok(adapter_key: object) -> bool:
    """A content address usable as one folder name (no separators, no ``..``): ``training.cell.adapter_key``."""
    return isinstance(adapter_key, str) and bool(_ADDRESS.match(adapter_key)) and ".." not in adapter_key


def adapter_folder_path(adapter_key: str) -> str:
    """Where the adapter at ``adapter_key`` lives in its model repo (and under a results folder)."""
    return f"{ADAPTERS_DIR}/{adapter_key}"


def adapter_file_path(adapter_key: str, name: str) -> str:
    """Where file ``name`` of the adapter at ``adapter_key`` lives in its model repo."""
    return f"{adapter_folder_path(adapter_key)}/{name}"


@dataclass(frozen=True)
class RepoRef:
    repo_id: str
    repo_type: RepoType

    def __str__(self) -> str:
        return f"{self.repo_type}:{self.repo_id}"


@dataclass(frozen=True)
class ArtifactKey:
    """One materialized partition: ``partition`` is None, ``task`` or ``task|variant`` (Dagster's order)."""

    asset: str
    partition: str | None
    profile: str

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.partition.split("|")) if self.partition else ()

    @property
    def label(self) -> str:
        return f"{self.asset}[{self.partition}]" if self.partition else self.asset

    def json_path(self) -> str:
        """Path in the dataset repo; mirrors the IO manager's local layout under a profile folder."""
        if not self.parts:
            return f"{self.profile}/{self.asset}.json"
        *dirs, leaf = self.parts
        return "/".join([self.profile, self.asset, *dirs, f"{leaf}.json"])

    def stamp_path(self) -> str:
        """Where the dataset repo keeps this artifact's sync record: ``baseweight-sync/<json_path>``."""
        return f"{STAMP_ROOT}/{self.json_path()}"

    @property
    def is_adapter_cell(self) -> bool:
        return self.asset == ADAPTER_ASSET and len(self.parts) == 2

    @property
    def model(self) -> str:
        """``<model>`` of a ``task|<model>__<condition>`` partition."""
        return split_variant(self.parts[1])[0]

    @property
    def condition(self) -> str:
        """``lora-<N>`` of a ``task|<model>__<condition>`` partition."""
        return split_variant(self.parts[1])[1]

    def adapter_value_path(self) -> str:
        """The lora_adapter value of this cell inside its model repo."""
        return f"baseweight/{self.condition}/lora_adapter.json"

    def adapter_stamp_path(self) -> str:
        """The sync record (hub/records.py) of this cell inside its model repo."""
        return f"baseweight/{self.condition}/sync.json"


def dataset_repo(hub: HubConfig) -> RepoRef:
    return RepoRef(hub.dataset_repo_id, "dataset")


def adapter_repo(hub: HubConfig, key: ArtifactKey) -> RepoRef:
    """``lora_adapter[task|<model>__<condition>]`` -> ``<org>/<prefix>-<model>-<task>-<profile>``: every condition
    and training seed of one base model on one task shares the repo (their folders by content address).

    The profile always ends the name, so a smoke and a full adapter can never share a repository; a name the
    Hub's 96-character limit would cut keeps its profile and gains a hash of the full name (no two cut names
    collide).
    """
    if not key.is_adapter_cell:
        raise ValueError(f"{key.label}: adapter repos exist only for lora_adapter[task|variant]")
    full = f"{hub.adapter_repo_prefix}-{key.model}-{key.parts[0]}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", full).strip("-.")
    suffix = f"-{key.profile}"
    if len(name) + len(suffix) > _HUB_NAME_MAX:
        tag = "-" + hashlib.sha256(full.encode()).hexdigest()[:8]
        name = name[:_HUB_NAME_MAX - len(suffix) - len(tag)].rstrip("-.") + tag
    return RepoRef(f"{hub.org}/{name}{suffix}", "model")
