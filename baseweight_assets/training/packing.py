"""Padding-free LoRA training pieces: packed rows, varlen flash attention, chunked cross-entropy.

Measured on Qwen3-8B's architecture by ``benchmarks/gpu_train_throughput.py`` (docs/PERFORMANCE.md); the trainer
uses the same functions on CUDA when ``config.packing`` is on. Written with plain torch because the GPU image
has no flash-attn, Liger or Unsloth package:
- documents are packed into one row; position_ids restart at 0 for each document and ``cu_seqlens`` marks the
  boundaries, so no token is padding and no token attends across documents;
- attention goes through ``torch.nn.attention.varlen.varlen_attn`` (FlashAttention-2 varlen inside torch),
  registered as a transformers attention implementation; the boundaries travel in a module-level context so
  that a compiled decoder layer never sees their (changing) shape;
- the loss never materialises the full [tokens, vocab] logits: ``ChunkedLinearCrossEntropy`` computes loss and
  the gradient for the hidden states chunk by chunk in the forward pass (the lm_head is frozen under LoRA).
Imports only torch and the pure rendering module (transformers lazily), so the GPU benchmarks can import it on a bare image.
"""

from __future__ import annotations

import importlib.util
import inspect
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from baseweight_assets.training.rendering import IGNORE_INDEX  # noqa: F401 - the label mask the rendering writes

ATTN_NAME = "packed_varlen"


@dataclass
class PackedBatch:
    input_ids: torch.Tensor     # [1, T]
    position_ids: torch.Tensor  # [1, T], restarting at 0 for each document
    labels: torch.Tensor        # [T], already shifted: labels[i] is the target after i, IGNORE_INDEX at doc ends
    cu_seqlens: torch.Tensor    # [n_docs + 1] int32
    max_len: int
    n_docs: int
    n_tokens: int               # real tokens in the row (== T: nothing is padding)


def pack_documents(docs: list[list[int]], device: str = "cpu",
                   labels: list[list[int]] | None = None) -> PackedBatch:
    """One padding-free row from whole documents (the caller chooses documents that fit the budget).

    ``labels`` (one list per document, unshifted, IGNORE_INDEX where no loss is wanted, e.g. the prompt) default
    to the documents themselves; they are shifted here, so each document's last position has no target.
    """
    if not docs or any(len(d) < 2 for d in docs):
        raise ValueError("pack_documents needs at least one document, each of two or more tokens")
    if labels is not None and [len(x) for x in labels] != [len(d) for d in docs]:
        raise ValueError("pack_documents: labels must have one list per document, each as long as its document")
    ids, pos, shifted, cu = [], [], [], [0]
    for i, doc in enumerate(docs):
        doc_labels = doc if labels is None else labels[i]
        ids.extend(doc)
        pos.extend(range(len(doc)))
        shifted.extend(list(doc_labels[1:]) + [IGNORE_INDEX])
        cu.append(cu[-1] + len(doc))
    return PackedBatch(
        input_ids=torch.tensor([ids], device=device),
        position_ids=torch.tensor([pos], device=device),
        labels=torch.tensor(shifted, device=device),
        cu_seqlens=torch.tensor(cu, device=device, dtype=torch.int32),
        max_len=max(len(d) for d in docs),
        n_docs=len(docs),
        n_tokens=len(ids),
    )


def greedy_pack(docs: list[list[int]], tokens_per_step: int) -> list[list[list[int]]]:
    """Group documents in order into rows of at most `tokens_per_step` tokens (first fit, no splitting)."""
    rows, row, used = [], [], 0
    for doc in docs:
        if len(doc) > tokens_per_step:
            raise ValueError(f"document of {len(doc)} tokens exceeds tokens_per_step={tokens_per_step}")
        if used + len(doc) > tokens_per_step:
            rows.append(row)
            row, used = [], 0
        row.append(doc)
        used += len(doc)
    if row:
        rows.append(row)
    return rows


class _PackContext:
    """Boundaries of the current packed batch; set before each forward (kept out of compiled graphs)."""

    cu_seqlens: torch.Tensor | None = None
    max_len: int = 0


PACK = _PackContext()


def set_pack_context(batch: PackedBatch, max_len: int | None = None) -> None:
    PACK.cu_seqlens = batch.cu_seqlens
    # A fixed upper bound keeps the flash kernel's launch shape stable from step to step.
    PACK.max_len = max_len or batch.max_len


def varlen_available() -> bool:
    """torch >= 2.10 ships ``torch.nn.attention.varlen`` (the flash kernel itself needs a CUDA device)."""
    try:
        return importlib.util.find_spec("torch.nn.attention.varlen") is not None
    except (ImportError, ValueError):
        return False


def _reference_varlen(q, k, v, cu_seqlens, scale):
    """Per-document causal SDPA; the CPU path and the correctness reference for the flash path."""
    outs = []
    bounds = cu_seqlens.tolist()
    for s, e in zip(bounds[:-1], bounds[1:]):
        o = F.scaled_dot_product_attention(
            q[s:e].transpose(0, 1), k[s:e].transpose(0, 1), v[s:e].transpose(0, 1), is_causal=True, scale=scale
        )
        outs.append(o.transpose(0, 1))
    return torch.cat(outs, 0)


def _flash_varlen(q, k, v, cu_seqlens, max_len, scale):
    from torch.nn.attention.varlen import varlen_attn

    params = inspect.signature(varlen_attn).parameters
    kwargs = {"scale": scale}
    if "enable_gqa" in params:
        kwargs["enable_gqa"] = True
    elif k.shape[1] != q.shape[1]:  # torch 2.11: no GQA flag, so repeat the kv heads
        rep = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
    if "is_causal" in params:
        kwargs["is_causal"] = True
    else:
        kwargs["window_size"] = (-1, 0)  # (-1, 0) is how varlen_attn spells causal
    return varlen_attn(q, k, v, cu_seqlens, cu_seqlens, max_len, max_len, **kwargs)


@torch.compiler.disable
def packed_varlen_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers attention interface: q [1, Hq, T, D], k/v [1, Hkv, T, D] -> ([1, T, Hq, D], None)."""
    if PACK.cu_seqlens is None:
        raise RuntimeError("packed_varlen attention called without set_pack_context()")
    if query.shape[0] != 1:
        raise ValueError(f"packed batches are one row; got batch {query.shape[0]}")
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # [T, H, D]
    if q.is_cuda:
        # The flash kernel takes only fp16/bf16; QLoRA's k-bit preparation keeps norms (so Qwen3's q/k) in fp32.
        half = q.dtype if q.dtype in (torch.float16, torch.bfloat16) else torch.bfloat16
        q, k, v = (t.to(half).contiguous() for t in (q, k, v))
        out = _flash_varlen(q, k, v, PACK.cu_seqlens, PACK.max_len, scaling).to(query.dtype)
    else:
        rep = q.shape[1] // k.shape[1]
        out = _reference_varlen(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1), PACK.cu_seqlens, scaling)
    return out.unsqueeze(0), None


def register_packed_attention() -> str:
    from transformers import AttentionInterface

    AttentionInterface.register(ATTN_NAME, packed_varlen_attention)
    return ATTN_NAME


class ChunkedLinearCrossEntropy(torch.autograd.Function):
    """Mean CE of `hidden @ weight.T` against `labels`, chunk by chunk, for a frozen `weight`.

    Forward computes the loss and d(loss)/d(hidden) together (softmax - one_hot, then @ weight), so peak
    memory holds one [chunk, vocab] fp32 block instead of the whole logits and their gradient.
    """

    @staticmethod
    def forward(ctx, hidden, weight, labels, chunk_size):
        n_valid = (labels != IGNORE_INDEX).sum().clamp(min=1)
        loss = torch.zeros((), device=hidden.device, dtype=torch.float32)
        grad_hidden = torch.empty_like(hidden)
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start:start + chunk_size]
            y = labels[start:start + chunk_size]
            logits = (h @ weight.T).float()
            valid = y != IGNORE_INDEX
            safe_y = torch.where(valid, y, torch.zeros_like(y))
            lse = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, safe_y[:, None])[:, 0]
            loss += ((lse - picked) * valid).sum()
            grad = torch.softmax(logits, dim=-1)
            grad.scatter_add_(1, safe_y[:, None], -torch.ones_like(picked)[:, None])
            grad *= (valid.float() / n_valid)[:, None]
            grad_hidden[start:start + chunk_size] = (grad.to(hidden.dtype) @ weight)
        ctx.save_for_backward(grad_hidden)
        return loss / n_valid

    @staticmethod
    def backward(ctx, grad_loss):
        (grad_hidden,) = ctx.saved_tensors
        return grad_hidden * grad_loss.to(grad_hidden.dtype), None, None, None


def chunked_lm_loss(hidden: torch.Tensor, lm_head_weight: torch.Tensor, labels: torch.Tensor,
                    chunk_size: int = 2048) -> torch.Tensor:
    if lm_head_weight.requires_grad:
        raise ValueError("chunked_lm_loss assumes a frozen lm_head (LoRA does not train it)")
    return ChunkedLinearCrossEntropy.apply(hidden.reshape(-1, hidden.shape[-1]), lm_head_weight, labels, chunk_size)


def prepare_packed_model(causal_lm: Any, *, compile_layers: bool) -> None:
    """Make every decoder layer see an input that requires grad (one compiled variant, not two), then compile
    each layer on its own (regional compile: one graph reused by all layers, seconds instead of minutes)."""
    causal_lm.enable_input_require_grads()
    if compile_layers:
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
        for layer in causal_lm.get_decoder().layers:
            layer.compile()


def packed_lm_loss(causal_lm: Any, batch: PackedBatch, max_len: int | None = None,
                   chunk_size: int = 2048) -> torch.Tensor:
    """Mean loss of one packed row through a causal LM loaded with ``attn_implementation=ATTN_NAME``."""
    set_pack_context(batch, max_len=max_len)
    hidden = causal_lm.get_decoder()(input_ids=batch.input_ids, position_ids=batch.position_ids,
                                     use_cache=False).last_hidden_state[0]
    return chunked_lm_loss(hidden, causal_lm.get_output_embeddings().weight, batch.labels, chunk_size)


def pack_examples(examples: list[dict], tokens_per_row: int, seed: int | None = None) -> list[dict]:
    """Tokenised examples (``input_ids`` + unshifted assistant-only ``labels``) -> rows of whole examples of at
    most ``tokens_per_row`` tokens; shuffled with ``seed`` first so a row does not hold one class or source."""
    order = list(range(len(examples)))
    if seed is not None:
        import random

        random.Random(seed).shuffle(order)
    ordered = [examples[i] for i in order]
    rows, start = [], 0
    for group in greedy_pack([ex["input_ids"] for ex in ordered], tokens_per_row):  # consecutive, in order
        members = ordered[start:start + len(group)]
        start += len(group)
        rows.append({"input_ids": [m["input_ids"] for m in members], "labels": [m["labels"] for m in members]})
    return rows


def collate_packed_row(rows: list[dict]) -> dict[str, torch.Tensor]:
    """Trainer collator: one row from ``pack_examples`` -> the tensors ``packed_lm_loss`` needs.

    ``labels`` and ``shift_labels`` are the same, already shifted, tensor: transformers' Trainer counts the
    supervised tokens of an accumulated batch from ``shift_labels`` without shifting them again.
    """
    if len(rows) != 1:
        raise ValueError(f"packed rows are batched one at a time; got {len(rows)} (set the batch size to 1)")
    batch = pack_documents(rows[0]["input_ids"], labels=rows[0]["labels"])
    return {"input_ids": batch.input_ids, "position_ids": batch.position_ids, "labels": batch.labels[None],
            "shift_labels": batch.labels[None], "cu_seqlens": batch.cu_seqlens}


def batch_from_inputs(inputs: dict[str, torch.Tensor], max_len: int) -> PackedBatch:
    """The PackedBatch of a collated (and device-moved) ``collate_packed_row`` output."""
    cu = inputs["cu_seqlens"]
    return PackedBatch(input_ids=inputs["input_ids"], position_ids=inputs["position_ids"],
                       labels=inputs["shift_labels"][0], cu_seqlens=cu, max_len=max_len, n_docs=len(cu) - 1,
                       n_tokens=inputs["input_ids"].shape[1])
