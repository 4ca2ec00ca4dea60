"""Push one materialized partition per commit; pull a partition that is missing locally."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from baseweight_assets.config.deployment import HubConfig
from baseweight_assets.hub import cards
from baseweight_assets.hub.layout import (
    ADAPTER_ASSET, ADAPTER_VALUE_PATH, SYNCED_ASSETS, ArtifactKey, RepoRef, adapter_repo, dataset_repo,
)
from baseweight_assets.hub.redaction import HubSyncError
from baseweight_assets.hub.targets import SyncTarget
from baseweight_assets.storage.atomic import replace_dir, write_json


class HubSync:
    """``push`` after a partition is written locally; ``pull`` before recomputing one that is missing."""

    def __init__(self, target: SyncTarget, hub: HubConfig, *, base_models: dict[str, str] | None = None,
                 log: Callable[[str], None] = lambda _m: None):
        self.target = target
        self.hub = hub
        self.base_models = base_models or {}  # model id -> Hub id, for adapter cards
        self.log = log
        self._ready: set[RepoRef] = set()

    def _ensure(self, repo: RepoRef) -> None:
        if repo not in self._ready:
            self.target.ensure_repo(repo, private=self.hub.private)
            self._ready.add(repo)

    def _is_adapter(self, key: ArtifactKey, value: dict) -> bool:
        return key.asset == ADAPTER_ASSET and value.get("status") == "ok" and bool(value.get("adapter_dir"))

    def push(self, key: ArtifactKey, json_file: Path, value: dict) -> str | None:
        """Commit the partition's JSON (and an adapter's folder plus card) in one commit; None if not synced."""
        if key.asset not in SYNCED_ASSETS:
            return None
        message = f"baseweight: {key.label} ({key.profile})"
        description = json.dumps({"asset": key.asset, "partition": key.partition, "profile": key.profile,
                                  "status": value.get("status", "ok")}, sort_keys=True)
        with tempfile.TemporaryDirectory(prefix="bw-hub-") as tmp:
            if self._is_adapter(key, value):
                repo, files = self._adapter_files(key, json_file, value, Path(tmp))
            else:
                repo = dataset_repo(self.hub)
                files = {key.json_path(): Path(json_file)}
                self._ensure(repo)
                if not self.target.exists(repo, "README.md"):
                    card = Path(tmp) / "README.md"
                    card.write_text(cards.artifacts_dataset_card(repo_id=repo.repo_id, profiles=["smoke", "full"],
                                                                 assets=list(SYNCED_ASSETS)), encoding="utf-8")
                    files["README.md"] = card
            self._ensure(repo)
            oid = self.target.commit(repo, files, message, description)
        self.log(f"hub: pushed {key.label} to {repo} ({len(files)} files, commit {oid[:12]})")
        return oid

    def _adapter_files(self, key: ArtifactKey, json_file: Path, value: dict, tmp: Path) -> tuple[RepoRef, dict]:
        repo = adapter_repo(self.hub, key)
        adapter_dir = Path(value["adapter_dir"])
        if not adapter_dir.is_dir():
            raise HubSyncError(f"{key.label}: adapter_dir {adapter_dir} does not exist; nothing to push")
        files = {p.relative_to(adapter_dir).as_posix(): p for p in sorted(adapter_dir.rglob("*")) if p.is_file()}
        task, variant = key.parts
        model, _, condition = variant.partition("__")
        card = tmp / "README.md"
        card.write_text(cards.adapter_card(
            repo_id=repo.repo_id, base_model=self.base_models.get(model, model), task=task, condition=condition,
            profile=key.profile, metadata=value.get("metadata") or {}, adapter_sha256=value.get("adapter_sha256"),
        ), encoding="utf-8")
        files["README.md"] = card
        files[ADAPTER_VALUE_PATH] = Path(json_file)
        return repo, files

    def pull(self, key: ArtifactKey, json_file: Path, adapter_dir: Path | None = None) -> bool:
        """Fetch the partition into ``json_file`` (and an adapter into ``adapter_dir``); False if the Hub lacks it.

        The JSON lands last and atomically: a partially pulled adapter never looks materialized.
        """
        if key.asset not in SYNCED_ASSETS:
            return False
        if key.asset == ADAPTER_ASSET and adapter_dir is not None:
            repo = adapter_repo(self.hub, key)
            if self.target.exists(repo, ADAPTER_VALUE_PATH):
                return self._pull_adapter(key, repo, json_file, Path(adapter_dir))
        repo, path = dataset_repo(self.hub), key.json_path()
        if not self.target.exists(repo, path):
            return False
        with tempfile.TemporaryDirectory(prefix="bw-hub-") as tmp:
            got = self.target.download(repo, [path], Path(tmp)) / path
            value = _read_json(got, f"{repo}/{path}")
            write_json(Path(json_file), value, allow_nan=True)
        self.log(f"hub: pulled {key.label} from {repo}")
        return True

    def _pull_adapter(self, key: ArtifactKey, repo: RepoRef, json_file: Path, adapter_dir: Path) -> bool:
        adapter_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{adapter_dir.name}.pull-", dir=adapter_dir.parent))
        try:
            self.target.download(repo, ["*"], staging)
            value = _read_json(staging / ADAPTER_VALUE_PATH, f"{repo}/{ADAPTER_VALUE_PATH}")
            shutil.rmtree(staging / Path(ADAPTER_VALUE_PATH).parent)
            (staging / "README.md").unlink(missing_ok=True)
            replace_dir(staging, adapter_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        value["adapter_dir"] = str(adapter_dir)  # the pushing machine's path means nothing here
        write_json(Path(json_file), value, allow_nan=True)
        self.log(f"hub: pulled {key.label} from {repo} into {adapter_dir}")
        return True


def _read_json(path: Path, where: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HubSyncError(f"{where}: listed on the target but not downloaded") from None
    except json.JSONDecodeError as exc:
        raise HubSyncError(f"{where}: not valid JSON ({exc}); refusing to use it") from None
