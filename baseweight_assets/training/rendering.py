"""Chat messages -> ``input_ids`` + assistant-only ``labels`` through the tokenizer's chat template.

Templates without ``{% generation %}`` markers (SmolLM2, Qwen3, Gemma) cannot report the assistant
mask themselves, so the prompt part is rendered with ``add_generation_prompt=True`` and every token
that starts inside that prefix is masked (-100). Character offsets make this exact even when BPE
merges across the prompt/answer boundary.

Policy for examples longer than ``max_seq_length``: they are DROPPED and counted, never truncated:
cutting the tail would remove the answer the loss is computed on, and cutting the head removes the
instructions the model is being taught to follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from baseweight_assets.training.errors import TrainingInputError

IGNORE_INDEX = -100


@dataclass
class RenderReport:
    n_in: int = 0
    n_kept: int = 0
    dropped_too_long: list[str] = field(default_factory=list)
    dropped_no_target: list[str] = field(default_factory=list)
    max_tokens: int = 0
    supervised_tokens: int = 0
    total_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_in": self.n_in,
            "n_kept": self.n_kept,
            "n_dropped_too_long": len(self.dropped_too_long),
            "n_truncated": 0,  # policy is drop, see module docstring
            "n_dropped_no_target": len(self.dropped_no_target),
            "dropped_ids": (self.dropped_too_long + self.dropped_no_target)[:20],
            "max_tokens": self.max_tokens,
            "supervised_tokens": self.supervised_tokens,
            "total_tokens": self.total_tokens,
        }


def check_messages(messages: object, row_id: str) -> list[dict]:
    """The chat must be a list of role/content dicts ending with a non-empty assistant turn."""
    if not isinstance(messages, list) or not messages:
        raise TrainingInputError(f"row {row_id!r}: render_messages returned {type(messages).__name__}, not a chat")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str) or not isinstance(msg.get("content"), str):
            raise TrainingInputError(f"row {row_id!r}: message {i} needs string 'role' and 'content', got {msg!r:.120}")
    if messages[-1]["role"] != "assistant":
        raise TrainingInputError(f"row {row_id!r}: the last message must be the assistant target, got {messages[-1]['role']!r}")
    if not messages[-1]["content"].strip():
        raise TrainingInputError(f"row {row_id!r}: the assistant target is empty")
    return messages


def render_chat(tokenizer: Any, messages: list[dict], *, template_kwargs: dict | None = None,
                row_id: str = "?") -> tuple[list[int], list[int]]:
    """Token ids of the full chat and labels with everything before the assistant answer masked."""
    kwargs = dict(template_kwargs or {})
    full_text = tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)
    prompt_text = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True, **kwargs)
    if not full_text.startswith(prompt_text):
        raise TrainingInputError(
            f"row {row_id!r}: the chat template renders the prompt (add_generation_prompt=True) differently from the "
            "start of the full chat, so the assistant part cannot be located; check the template/template kwargs"
        )
    enc = tokenizer(full_text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(enc["input_ids"])
    boundary = len(prompt_text)
    labels = [tok if start >= boundary else IGNORE_INDEX for tok, (start, _end) in zip(input_ids, enc["offset_mapping"])]
    return input_ids, labels


def render_chats(rows: list[dict], render_messages: Callable[[dict], list[dict]]) -> list[list[dict]]:
    """Call the caller's prompt template on every prepared Example and validate what comes back."""
    chats = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TrainingInputError(f"row #{index}: expected a dict (prepared Example), got {type(row).__name__}")
        row_id = str(row.get("id", f"#{index}"))
        try:
            messages = render_messages(row)
        except (KeyError, ValueError, TypeError) as exc:
            raise TrainingInputError(f"row {row_id!r}: render_messages failed: {exc!r}") from exc
        chats.append(check_messages(messages, row_id))
    return chats


def tokenize_chats(ids: list[str], chats: list[list[dict]], tokenizer: Any, *, max_seq_length: int,
                   template_kwargs: dict | None = None) -> tuple[list[dict], RenderReport]:
    """Chats -> ``{"input_ids", "labels"}`` rows; over-long chats are dropped and counted (see module docstring)."""
    out: list[dict] = []
    report = RenderReport()
    for row_id, messages in zip(ids, chats, strict=True):
        report.n_in += 1
        input_ids, labels = render_chat(tokenizer, messages, template_kwargs=template_kwargs, row_id=row_id)
        if len(input_ids) > max_seq_length:
            report.dropped_too_long.append(row_id)
            continue
        n_supervised = sum(1 for lab in labels if lab != IGNORE_INDEX)
        if n_supervised == 0:
            report.dropped_no_target.append(row_id)
            continue
        report.max_tokens = max(report.max_tokens, len(input_ids))
        report.supervised_tokens += n_supervised
        report.total_tokens += len(input_ids)
        out.append({"input_ids": input_ids, "labels": labels})
    report.n_kept = len(out)
    return out, report
