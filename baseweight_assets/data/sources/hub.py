"""Hub source: ``datasets.load_dataset(path, name, revision=...)`` converted to the canonical rows.

The task's offline loader knows its dataset (``LoaderSpec.from_hub``) and turns the Hub's rows into the same
canonical rows its files give; a task without one gets the Hub rows as they are. Only used when the wiring asks
for it (Hub reachable and BASEWEIGHT_USE_HUB=1); any failure is a DataError, never a silent fallback to a cache.
"""

from __future__ import annotations

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError
from baseweight_assets.data.sources import LOADERS


def load(task: TaskConfig) -> dict:
    hub = task.source.hub
    if hub is None:
        raise DataError(f"task {task.id!r}: no source.hub in its config")
    try:
        import datasets

        splits, labels = {}, None
        for ours, theirs in hub.splits.items():
            ds = datasets.load_dataset(hub.path, hub.name, revision=hub.revision, split=theirs)
            feature = ds.features.get("label")
            labels = list(feature.names) if hasattr(feature, "names") else labels
            splits[ours] = [dict(r) for r in ds]
    except Exception as exc:  # network, auth, missing revision: all mean "Hub not usable"
        raise DataError(f"hub {hub.path} ({hub.name}) @ {hub.revision}: cannot load ({type(exc).__name__}: {exc})") from None
    spec = LOADERS.get(task.source.offline.loader) if task.source.offline else None
    if spec is not None and spec.from_hub is not None:
        splits = spec.from_hub(splits)
    if task.labels:
        labels = list(task.labels)
    return {
        "task": task.id,
        "source": "hub",
        "splits": splits,
        "labels": labels,
        "provenance": {"dataset": hub.path, "revision": hub.revision, "files": {}, "partial": None, "loader": "hub"},
        "counts": {s: len(r) for s, r in splits.items()},
        "report": {},
    }
