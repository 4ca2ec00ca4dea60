"""``load_raw``: one task's raw rows from the offline files (default) or the Hub, with provenance."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError
from baseweight_assets.data.sources import LOADERS
from baseweight_assets.data.sources.common import fingerprints


def load_raw(task: TaskConfig, data_root: Path, *, use_hub: bool = False) -> dict:
    """Raw rows per split: canonical rows of the task's kind, the same from the files and from the Hub.

    Returns ``{"task", "source", "splits", "labels", "provenance", "counts", "report"}``; raises
    DataError naming the file, the 1-based row and the field on malformed or truncated input.
    """
    if use_hub:
        from baseweight_assets.data.sources import hub  # imports `datasets` only when asked

        return hub.load(task)
    off = task.source.offline
    if off is None:
        raise DataError(f"task {task.id!r}: no source.offline in its config and the Hub was not requested")
    spec = LOADERS.get(off.loader)
    if spec is None:
        raise DataError(f"task {task.id!r}: unknown offline loader {off.loader!r} (known: {sorted(LOADERS)})")
    try:
        options = spec.options.model_validate(off.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise DataError(f"task {task.id!r}: source.offline.options.{field}: {err['msg']}") from None
    root = Path(data_root) / off.dir
    if not root.is_dir():
        raise DataError(f"{root}: data folder for task {task.id!r} not found")
    loaded = spec.load(task, root, options)
    return {
        "task": task.id,
        "source": "offline",
        "splits": loaded.splits,
        "labels": loaded.labels,
        "provenance": {
            "dataset": task.source.hub.path if task.source.hub else off.dir,
            "revision": None,
            "files": fingerprints(loaded.files),
            "partial": " ".join(off.partial.split()) if off.partial else None,
            "loader": off.loader,
        },
        "counts": {split: len(rows) for split, rows in loaded.splits.items()},
        "report": loaded.report,
    }
