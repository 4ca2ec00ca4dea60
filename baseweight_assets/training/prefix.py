"""Shared-prefix batches: the prompt tokens every row of a batch starts with run once, not once per row.

All training rows of a task share its system prompt and the chat template's turn tokens (BANKING77: about 650 of
690 tokens). For a batch of B rows the longest common token prefix (length P) goes through the decoder once, at
batch size 1 and with gradients; its key/value cache is expanded to the B rows and only the suffixes (the rest of
each row, right-padded) run on top of it, at positions P, P+1, ... . Because autograd sums the gradients of the
expanded cache over the rows, the prefix's forward AND backward run once per batch, and the loss and the LoRA
gradients are those of the plain computation (the same causal attention over the same tokens), up to float rounding.

Only supervised positions reach the LM head: logits are computed for the assistant tokens alone, never as a
[tokens x vocab] block for the whole prompt.

The prefix stops before the first position whose logits carry a loss in any row, so every supervised position is
in a suffix. A batch whose common prefix is shorter than ``MIN_SHARED_PREFIX`` tokens is run plainly (P = 0: right
padded rows, per-row causal attention), as is everything when the model cannot take an expanded cache (sliding-
window layers) or has gradient checkpointing on (which turns the cache off).

With LoRA dropout > 0 the prefix's dropout mask is drawn once per batch, so the rows of a batch share it; each row
still sees a correctly distributed mask. Imports only torch (transformers lazily).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F

from baseweight_assets.training.rendering import IGNORE_INDEX

# Below this the extra batch-1 forward and the cache copy cost about what sharing saves.
MIN_SHARED_PREFIX = 32


def shared_prefix_length(rows: list[dict]) -> int:
    """Longest common prefix of the rows' ``input_ids``, cut so that no position inside it predicts a supervised
    token: every row keeps the position before its first label (and at least one token) in its suffix."""
    ids = [r["input_ids"] for r in rows]
    limit = min(_first_supervised(r) for r in rows) - 1
    limit = min(limit, *(len(x) - 1 for x in ids))
    first = ids[0]
    n = 0
    while n < limit and all(x[n] == first[n] for x in ids[1:]):
        n += 1
    return max(n, 0)


def _first_supervised(row: dict) -> int:
    for i, label in enumerate(row["labels"]):
        if label != IGNORE_INDEX:
            return i
    return len(row["labels"])


class SharedPrefixCollator:
    """Rows of ``{"input_ids", "labels"}`` (unshifted, assistant-only labels) -> one shared-prefix batch.

    Keys: ``input_ids`` [B, S] the suffixes, right-padded with ``pad_id``; ``attention_mask`` [B, P + S] (ones over
    the prefix and each row's real suffix tokens, so its sum is the rows' real token count); ``labels`` and
    ``shift_labels`` [B, S], the same already-shifted tensor: entry (b, j) is the target of suffix position j (the
    token at P + j + 1), IGNORE_INDEX where there is none; ``prefix_ids`` [1, P] (P = 0: no shared prefix).
    """

    def __init__(self, pad_id: int, min_prefix: int = MIN_SHARED_PREFIX) -> None:
        self.pad_id, self.min_prefix = int(pad_id), int(min_prefix)

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        if not rows:
            raise ValueError("SharedPrefixCollator: empty batch")
        prefix = shared_prefix_length(rows)
        if prefix < self.min_prefix:
            prefix = 0
        suffixes = [r["input_ids"][prefix:] for r in rows]
        width = max(len(s) for s in suffixes)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), prefix + width), dtype=torch.long)
        mask[:, :prefix] = 1
        shifted = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for b, (row, suffix) in enumerate(zip(rows, suffixes)):
            ids[b, :len(suffix)] = torch.tensor(suffix, dtype=torch.long)
            mask[b, prefix:prefix + len(suffix)] = 1
            targets = row["labels"][prefix + 1:]
            shifted[b, :len(targets)] = torch.tensor(targets, dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": shifted, "shift_labels": shifted,
                "prefix_ids": torch.tensor([rows[0]["input_ids"][:prefix]], dtype=torch.long).reshape(1, prefix)}


def supports_shared_prefix(causal_lm: Any) -> str | None:
    """None when ``causal_lm`` can run shared-prefix batches, else why not (the batches then run with P = 0)."""
    from transformers import DynamicCache

    config = causal_lm.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    checkpointing = ("is_activation_checkpointing" if hasattr(type(causal_lm), "is_activation_checkpointing")
                     else "is_gradient_checkpointing")  # transformers 5.2x renamed it
    if getattr(causal_lm, checkpointing, False):
        return "gradient checkpointing turns the key/value cache off"
    if any(getattr(text, name, None) not in (None, 1, 1.0) for name in ("logit_scale", "logits_scaling")):
        return "the LM head scales its logits"
    if any(getattr(layer, "is_sliding", False) for layer in DynamicCache(config=config).layers):
        return "sliding-window layers keep only part of the prefix in their cache"
    return None


def supervised_loss_sum(causal_lm: Any, batch: dict[str, torch.Tensor],
                        share_prefix: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of the token cross-entropies, number of supervised tokens) of a ``SharedPrefixCollator`` batch.

    ``share_prefix=False`` runs the same rows plainly (prefix + suffix as one right-padded row each): the reference
    the shared computation must equal, and the path for models ``supports_shared_prefix`` refuses.
    """
    decoder = causal_lm.get_decoder()
    prefix, ids, mask, labels = batch["prefix_ids"], batch["input_ids"], batch["attention_mask"], batch["shift_labels"]
    n_rows, n_prefix = ids.shape[0], prefix.shape[1]
    if n_prefix and not share_prefix:
        ids = torch.cat([prefix.expand(n_rows, -1), ids], dim=1)
        labels = torch.cat([torch.full((n_rows, n_prefix), IGNORE_INDEX, dtype=labels.dtype, device=labels.device),
                            labels], dim=1)
        n_prefix = 0
    kwargs: dict[str, Any] = {}
    if n_prefix:
        cache_arg = _cache_argument(decoder)
        cache = getattr(decoder(input_ids=prefix, use_cache=True), cache_arg)
        for layer in cache.layers:  # the rows attend to one prefix: expand (a view), autograd sums its gradients
            layer.keys = layer.keys.expand(n_rows, -1, -1, -1)
            layer.values = layer.values.expand(n_rows, -1, -1, -1)
        positions = torch.arange(n_prefix, n_prefix + ids.shape[1], device=ids.device).expand(n_rows, -1)
        kwargs = {cache_arg: cache, "position_ids": positions, "use_cache": True}
    else:
        kwargs = {"use_cache": False}
    hidden = decoder(input_ids=ids, attention_mask=mask, **kwargs).last_hidden_state
    supervised = labels != IGNORE_INDEX
    logits = lm_logits(causal_lm, hidden[supervised])
    loss_sum = F.cross_entropy(logits.float(), labels[supervised], reduction="sum")
    return loss_sum, supervised.sum()


def lm_logits(causal_lm: Any, hidden: torch.Tensor) -> torch.Tensor:
    """The model's output head on selected hidden states (softcapped where the config says so, as Gemma 2 does)."""
    logits = causal_lm.get_output_embeddings()(hidden)
    config = causal_lm.config.get_text_config() if hasattr(causal_lm.config, "get_text_config") else causal_lm.config
    cap = getattr(config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def _cache_argument(decoder: Any) -> str:
    """transformers 5.2x names the decoder's cache argument ``cache``; older 5.x ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
