"""Hub source: ``datasets.load_dataset(path, name, revision=...)`` converted to the offline rows.

Only used when the wiring asks for it (Hub reachable and BASEWEIGHT_USE_HUB=1); any failure is a
DataError, never a silent fallback to a cache.
"""

from __future__ import annotations

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.errors import DataError


def _cuad(rows_by_split: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """cuad-qa rows carry the context per question; keep it once per contract as offline does."""
    contracts, questions = {}, []
    for rows in rows_by_split.values():
        for r in rows:
            contracts.setdefault(r["title"], r["context"])
            clause = r["id"].split("__", 1)[-1] if "__" in r["id"] else r["question"]
            text = list(r["answers"]["text"])
            questions.append({"id": r["id"], "title": r["title"], "clause_type": clause, "question": r["question"],
                              "answers": {"text": text, "answer_start": list(r["answers"]["answer_start"]),
                                          "located": ["verbatim"] * len(text)}})
    return {"contracts": [{"title": t, "text": c} for t, c in contracts.items()], "questions": questions}


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
    if task.source.offline and task.source.offline.loader == "cuad":
        splits = _cuad(splits)
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
