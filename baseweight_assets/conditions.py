"""Conditions: how a model is asked to do a task.

``zero-shot`` and ``5-shot`` prompt the model as it is; ``lora-N`` fine-tunes a LoRA adapter on N labelled training
examples (``lora-full``: on every training example the task has). In a model's config, ``lora`` stands for the whole
data-efficiency curve: one ``lora-N`` per size the task's curve lists (``run_defaults.lora_sizes``, overridable per
task and per profile). The variant key of a cell is ``<model>__<condition>``.
"""

from __future__ import annotations

import re
from typing import Literal, Union

ZERO_SHOT = "zero-shot"
FIVE_SHOT = "5-shot"
PROMPTED = (ZERO_SHOT, FIVE_SHOT)
LORA_CURVE = "lora"
FULL = "full"
LoraSize = Union[int, Literal["full"]]

_LORA = re.compile(r"^lora-(full|[1-9][0-9]*)$")


def lora(size: LoraSize) -> str:
    if size != FULL and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise ValueError(f"a LoRA size is a positive number of examples or 'full', got {size!r}")
    return f"lora-{size}"


def is_lora(condition: str) -> bool:
    return bool(_LORA.match(condition))


def lora_size(condition: str) -> LoraSize:
    m = _LORA.match(condition)
    if not m:
        raise ValueError(f"not a LoRA condition (lora-<N> or lora-full): {condition!r}")
    return FULL if m.group(1) == FULL else int(m.group(1))


def check_condition(condition: str, *, allow_curve: bool = False) -> str:
    if condition in PROMPTED or is_lora(condition) or (allow_curve and condition == LORA_CURVE):
        return condition
    expected = ", ".join([*PROMPTED, *(("lora",) if allow_curve else ()), "lora-<N>", "lora-full"])
    raise ValueError(f"unknown condition {condition!r}; expected one of {expected}")


def order(condition: str) -> tuple:
    """Display order: prompted first, then LoRA by size with full last."""
    if condition in PROMPTED:
        return (0, PROMPTED.index(condition), 0)
    size = lora_size(condition)
    return (1, 1, 0) if size == FULL else (1, 0, size)


def expand(conditions: list[str], curve: list[LoraSize]) -> list[str]:
    """A model's configured conditions with ``lora`` replaced by one ``lora-N`` per curve size; sorted, unique."""
    out = set()
    for c in conditions:
        if c == LORA_CURVE:
            out.update(lora(n) for n in curve)
        else:
            out.add(check_condition(c))
    return sorted(out, key=order)
