"""Shared-prefix batches: the prompt tokens every row of a batch starts with run once, not once per row.

All training rows of a task share its system prompt and the chat template's turn tokens (BANKING77: about 650 of
690 tokens). For a batch of B rows the longest common token prefix (length P) goes through the decoder once, at
batch size 1 and with gradients; its key/value cache is expanded to the B rows and only the suffixes (the rest of
each row: right-padded in one call, or one row at a time when their lengths differ a lot) run on top of it, at
positions P, P+1, ... . Because autograd sums the gradients of the expanded cache over the rows, the prefix's
forward AND backward run once per batch, and the loss and the LoRA gradients are those of the plain computation
(the same causal attention over the same tokens), up to float rounding. In training each suffix part's backward
runs as soon as its forward is done (``loss_with_suffix_backward``), so memory holds one part's graph at a time;
an evaluation pass computes a prompt's keys and values once for all its batches (``PrefixKVCache``).

Only supervised positions reach the LM head: logits are computed for the assistant tokens alone, never as a
[tokens x vocab] block for the whole prompt.

The prefix stops before the first position whose logits carry a loss in any row, so every supervised position is
in a suffix. A batch whose common prefix is shorter than ``MIN_SHARED_PREFIX`` tokens is run plainly (P = 0: whole
rows, each under its own causal attention), as is everything when the model cannot take an expanded cache (sliding-
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

# Sharing P tokens among B rows saves (B - 1) x P tokens for one more decoder call (about ROW_CALL_TOKENS tokens'
# worth): at 2 rows that pays from about 20 tokens; 32 leaves a margin.
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

    checkpointing = ("is_activation_checkpointing" if hasattr(type(causal_lm), "is_activation_checkpointing")
                     else "is_gradient_checkpointing")  # transformers 5.2x renamed it
    if getattr(causal_lm, checkpointing, False):
        return "gradient checkpointing turns the key/value cache off"
    if any(getattr(layer, "is_sliding", False) for layer in DynamicCache(config=causal_lm.config).layers):
        return "sliding-window layers keep only part of the prefix in their cache"
    return None


def prefix_key_values(causal_lm: Any, prefix_ids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, the keys and values of ``prefix_ids`` [1, P] (with gradients when grad mode is on)."""
    decoder = causal_lm.get_decoder()
    cache_arg = _cache_argument(decoder)
    cache = getattr(decoder(input_ids=prefix_ids, use_cache=True), cache_arg)
    return [(layer.keys, layer.values) for layer in cache.layers]


class PrefixKVCache:
    """The keys and values of the last prefix asked for, reused while the weights stay as they are (one evaluation
    pass, gradients off). A prompt that starts like the cached one costs only its new tokens: a shorter one is a
    slice of the cache (a causal position depends only on the positions before it), a longer one runs its extra
    tokens on top of it."""

    def __init__(self) -> None:
        self.ids: tuple[int, ...] = ()
        self.kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def get(self, causal_lm: Any, prefix_ids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if torch.is_grad_enabled():
            raise RuntimeError("PrefixKVCache is for passes without gradients (the weights must not change)")
        ids = tuple(prefix_ids[0].tolist())
        common = 0
        for a, b in zip(self.ids, ids):
            if a != b:
                break
            common += 1
        if self.kv is None or common == 0:
            self.kv = prefix_key_values(causal_lm, prefix_ids)
        else:
            kept = [(k[:, :, :common], v[:, :, :common]) for k, v in self.kv]
            if common < len(ids):
                from transformers import DynamicCache

                decoder = causal_lm.get_decoder()
                cache = DynamicCache(kept)
                positions = torch.arange(common, len(ids), device=prefix_ids.device)[None]
                decoder(input_ids=prefix_ids[:, common:], position_ids=positions, use_cache=True,
                        **{_cache_argument(decoder): cache})
                kept = [(layer.keys, layer.values) for layer in cache.layers]
            self.kv = kept
        self.ids = ids
        return self.kv


def supervised_loss_sum(causal_lm: Any, batch: dict[str, torch.Tensor], share_prefix: bool = True,
                        prefix_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of the token cross-entropies, number of supervised tokens) of a ``SharedPrefixCollator`` batch.

    The suffixes run as one right-padded batch, or one row at a time when padding would cost more than the extra
    decoder calls (``rows_apart``); both give the same numbers. ``prefix_kv``: the prefix's keys and values when
    the caller already has them (an evaluation pass: the weights do not change between its batches).
    ``share_prefix=False`` runs the same rows whole (prefix + suffix): the reference the shared computation must
    equal, and the path for models ``supports_shared_prefix`` refuses.
    """
    plan = _Plan(causal_lm, batch, share_prefix)
    if plan.n_prefix and prefix_kv is None:
        prefix_kv = prefix_key_values(causal_lm, plan.prefix)
    parts = list(plan.parts(prefix_kv))
    return torch.stack([p[0] for p in parts]).sum(), torch.stack([p[1] for p in parts]).sum()


def loss_with_suffix_backward(causal_lm: Any, batch: dict[str, torch.Tensor], scale: torch.Tensor,
                              share_prefix: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Training: (``supervised_loss_sum / scale``, number of supervised tokens), where the backward of every suffix
    part (a row, or the padded batch) has already run, each part's graph freed before the next part runs.

    Peak memory then holds the prefix's graph and one part's, not all rows' (smoke lora-full, batches of 8: MedMCQA
    5.9 -> 2.7 GB peak RSS, MBPP 5.3 -> 2.5 GB, same losses). The parts' gradients reach the LoRA weights' ``.grad``
    directly and the prefix's keys and values through detached copies; ``loss.backward()`` then runs the prefix's
    backward once with those gradients, so ``.grad`` ends as one backward of the whole loss would leave it (the
    forwards run in the same order: dropout draws the same masks).
    """
    plan = _Plan(causal_lm, batch, share_prefix)
    prefix_kv = leaves = None
    if plan.n_prefix:
        prefix_kv = prefix_key_values(causal_lm, plan.prefix)
        leaves = [(k.detach().requires_grad_(), v.detach().requires_grad_()) for k, v in prefix_kv]
    total = torch.zeros((), device=batch["input_ids"].device)
    count = torch.zeros((), dtype=torch.long, device=batch["input_ids"].device)
    for loss_sum, n in plan.parts(leaves):
        (loss_sum / scale).backward()
        total, count = total + loss_sum.detach(), count + n
    loss = (total / scale).requires_grad_()  # a leaf: backward reaches nothing when there is no prefix
    if prefix_kv is not None:
        link = sum(((k * lk.grad).sum() + (v * lv.grad).sum()
                    for (k, v), (lk, lv) in zip(prefix_kv, leaves) if lk.grad is not None), total.new_zeros(()))
        loss = loss + (link - link.detach())  # value unchanged; its gradient w.r.t. the prefix is what the parts sent
    return loss, count


class _Plan:
    """A collated batch as prefix ids and suffix parts (rows whole when the prefix is not shared)."""

    def __init__(self, causal_lm: Any, batch: dict[str, torch.Tensor], share_prefix: bool) -> None:
        self.causal_lm, self.decoder = causal_lm, causal_lm.get_decoder()
        self.prefix, ids, mask, labels = (batch["prefix_ids"], batch["input_ids"], batch["attention_mask"],
                                          batch["shift_labels"])
        n_rows, self.n_prefix = ids.shape[0], self.prefix.shape[1]
        if self.n_prefix and not share_prefix:
            ids = torch.cat([self.prefix.expand(n_rows, -1), ids], dim=1)
            labels = torch.cat([torch.full((n_rows, self.n_prefix), IGNORE_INDEX, dtype=labels.dtype,
                                           device=labels.device), labels], dim=1)
            self.n_prefix = 0
        self.ids, self.mask, self.labels = ids, mask, labels
        self.lengths = [int(n) for n in mask[:, self.n_prefix:].sum(dim=1)]

    def parts(self, prefix_kv: list[tuple[torch.Tensor, torch.Tensor]] | None):
        """(loss sum, supervised tokens) of each part, computed when asked for (one row, or the padded batch)."""
        if rows_apart(self.lengths, self.ids.shape[1]):
            for b, n in enumerate(self.lengths):
                yield _suffix_loss(self.causal_lm, self.decoder, self.ids[b:b + 1, :n], None,
                                   self.labels[b:b + 1, :n], prefix_kv, self.n_prefix)
        else:
            yield _suffix_loss(self.causal_lm, self.decoder, self.ids, self.mask, self.labels, prefix_kv,
                               self.n_prefix)


# One more decoder call costs about what this many more tokens cost (SmolLM2-135M, one CPU core: about 150 ms per
# forward and backward call against 9.5 ms per token; 90 ms against 3.5 ms forward only).
ROW_CALL_TOKENS = 20


def rows_apart(lengths: list[int], width: int) -> bool:
    """Run a batch's rows one at a time when their real tokens plus one call's worth per row are fewer than the
    padded batch's ``len(lengths) x width`` token slots."""
    return len(lengths) > 1 and sum(lengths) + ROW_CALL_TOKENS * len(lengths) < len(lengths) * width


def _suffix_loss(causal_lm: Any, decoder: Any, ids: torch.Tensor, mask: torch.Tensor | None, labels: torch.Tensor,
                 prefix_kv: list[tuple[torch.Tensor, torch.Tensor]] | None, n_prefix: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    n_rows = ids.shape[0]
    if n_prefix:
        from transformers import DynamicCache

        cache = DynamicCache(prefix_kv)  # its own copy: the suffix's keys are appended to it
        for layer in cache.layers:  # the rows attend to one prefix: views, so autograd sums their gradients into it
            layer.keys = layer.keys.expand(n_rows, -1, -1, -1)
            layer.values = layer.values.expand(n_rows, -1, -1, -1)
        positions = torch.arange(n_prefix, n_prefix + ids.shape[1], device=ids.device).expand(n_rows, -1)
        kwargs: dict[str, Any] = {_cache_argument(decoder): cache, "position_ids": positions, "use_cache": True}
    else:
        kwargs = {"use_cache": False}
    hidden = decoder(input_ids=ids, attention_mask=mask, **kwargs).last_hidden_state
    supervised = labels != IGNORE_INDEX
    logits = lm_logits(causal_lm, hidden[supervised])
    return F.cross_entropy(logits.float(), labels[supervised], reduction="sum"), supervised.sum()


def lm_logits(causal_lm: Any, hidden: torch.Tensor) -> torch.Tensor:
    """The model's output head on selected hidden states, with the scaling its config names (Cohere's logit_scale,
    Granite's logits_scaling, Gemma 2's final softcapping), as its own forward applies it."""
    logits = causal_lm.get_output_embeddings()(hidden)
    config = causal_lm.config.get_text_config() if hasattr(causal_lm.config, "get_text_config") else causal_lm.config
    if getattr(config, "logit_scale", None) is not None:
        logits = logits * config.logit_scale
    if getattr(config, "logits_scaling", None) is not None:
        logits = logits / config.logits_scaling
    cap = getattr(config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def _cache_argument(decoder: Any) -> str:
    """transformers 5.2x names the decoder's cache argument ``cache``; older 5.x ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
