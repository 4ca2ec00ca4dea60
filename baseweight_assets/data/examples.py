"""The Example record (docs/ARCHITECTURE.md): ``make`` builds one; each task kind (``baseweight_assets.tasks``)
builds its examples from canonical rows with it.

``_content`` is a transient key holding the text the contamination check compares; prepare drops it before output.
"""

from __future__ import annotations

from baseweight_assets.data.contamination import content_text
from baseweight_assets.data.ids import content_id


def make(task_id: str, group: str, fields: dict, target: str, gold: object, meta: dict | None = None,
         content: str | None = None, question_id: str | None = None) -> dict:
    """An Example whose id is ``content_id(task_id, {fields, gold})``; ``question_id`` defaults to that id."""
    ex_id = content_id(task_id, {"fields": fields, "gold": gold})
    ex = {"id": ex_id, "question_id": question_id or ex_id, "group": group, "fields": fields,
          "target": target, "gold": gold, "meta": meta or {}}
    ex["_content"] = content if content is not None else content_text(fields)
    return ex
