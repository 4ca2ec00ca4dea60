"""Errors the trainer raises; each message names the row, step or setting to change."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Base class: training could not produce an adapter (nothing was published)."""


class TrainingInputError(TrainingError, ValueError):
    """The training or validation rows cannot be used (empty, too few, malformed, all too long)."""


class TrainingDivergedError(TrainingError):
    """The loss or gradient norm became NaN/Inf; the message names the step."""


class TrainingOOMError(TrainingError):
    """The accelerator ran out of memory; the message says what to lower."""
