"""Task kinds: classification, multiple choice, extraction over windowed documents, code generation.

One interface (``kind.TaskKind``) says how a kind builds examples, constrains decoding, parses outputs, scores and
categorises answers; ``registry.kind_of(task)`` picks the kind from the task's ``task_type``.
"""

from baseweight_assets.tasks.kind import Drawn, KindScores, ScoringInput, TaskKind
from baseweight_assets.tasks.registry import KINDS, get_kind, kind_of

__all__ = ["KINDS", "Drawn", "KindScores", "ScoringInput", "TaskKind", "get_kind", "kind_of"]
