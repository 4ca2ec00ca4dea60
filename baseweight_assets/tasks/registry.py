"""Which kind a ``task_type`` names. A new kind: its module, then one entry in ``KINDS``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from baseweight_assets.tasks.classification import ClassificationKind
from baseweight_assets.tasks.code import CodeKind
from baseweight_assets.tasks.extraction import ExtractionKind
from baseweight_assets.tasks.kind import TaskKind
from baseweight_assets.tasks.multiple_choice import MultipleChoiceKind

if TYPE_CHECKING:
    from baseweight_assets.config.schema import TaskConfig

KINDS: dict[str, TaskKind] = {k.name: k for k in (ClassificationKind(), MultipleChoiceKind(), ExtractionKind(),
                                                    CodeKind())}


def get_kind(task_type: str) -> TaskKind:
    """The kind registered under ``task_type``; ValueError listing the known ones otherwise."""
    try:
        return KINDS[task_type]
    except KeyError:
        raise ValueError(f"unknown task_type {task_type!r} (known: {sorted(KINDS)})") from None


def kind_of(task: TaskConfig) -> TaskKind:
    """The kind of ``task`` (its ``task_type``)."""
    try:
        return get_kind(task.task_type)
    except ValueError as exc:
        raise ValueError(f"task {task.id!r}: {exc}") from None
