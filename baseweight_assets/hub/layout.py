"""Where each artifact lives on the Hub: JSON artifacts in one dataset repo, each adapter in its own model repo."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.pipeline.stages import synced_assets

RepoType = Literal["dataset", "model"]

# Which assets sync is declared in the stage registry (raw_dataset, a copy of the licensed source, stays local).
SYNCED_ASSETS = synced_assets()
ADAPTER_ASSET = "lora_adapter"
ADAPTER_VALUE_PATH = "baseweight/lora_adapter.json"  # the asset's JSON value inside its model repo
ADAPTER_STAMP_PATH = "baseweight/sync.json"          # its sync record (hub/records.py) inside the model repo
STAMP_ROOT = "baseweight-sync"                       # sync records of the dataset repo's JSON artifacts
_HUB_NAME_MAX = 96


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


def dataset_repo(hub: HubConfig) -> RepoRef:
    return RepoRef(hub.dataset_repo_id, "dataset")


def adapter_repo(hub: HubConfig, key: ArtifactKey) -> RepoRef:
    """``lora_adapter[task|<model>__<condition>]`` -> ``<org>/<prefix>-<model>-<task>-<condition>-<profile>``.

    The profile always ends the name, so a smoke and a full adapter can never share a repository; a name the
    Hub's 96-character limit would cut keeps its profile and gains a hash of the full name (no two cut names
    collide).
    """
    if key.asset != ADAPTER_ASSET or len(key.parts) != 2:
        raise ValueError(f"{key.label}: adapter repos exist only for lora_adapter[task|variant]")
    task, variant = key.parts
    model, _, condition = variant.partition("__")
    org, _, name = hub.adapter_repo_id(model, task, condition).partition("/")
    suffix = f"-{key.profile}"
    full = f"{hub.adapter_repo_prefix}-{model}-{task}-{condition}"
    if len(name) + len(suffix) > _HUB_NAME_MAX:  # adapter_repo_id may already have cut it at 96
        tag = "-" + hashlib.sha256(full.encode()).hexdigest()[:8]
        name = name[:_HUB_NAME_MAX - len(suffix) - len(tag)].rstrip("-.") + tag
    return RepoRef(f"{org}/{name}{suffix}", "model")
