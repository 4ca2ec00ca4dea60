"""Padding-free LoRA training pieces: packed batches, varlen flash attention, chunked cross-entropy.

Written here with plain torch because the GPU machine has no flash-attn, Liger or Unsloth package:
- documents are packed into one row of `tokens_per_step` tokens; position_ids restart at 0 for each document
  and `cu_seqlens` marks the boundaries, so no token is padding and no token attends across documents;
- attention goes through `torch.nn.attention.varlen.varlen_attn` (FlashAttention-2 varlen inside torch),
  registered as a transformers attention implementation; the boundaries travel in a module-level context so
  that a compiled decoder layer never sees their (changing) shape;
- the loss never materialises the full [tokens, vocab] logits: `ChunkedLinearCrossEntropy` computes loss and
  the gradient for the hidden states chunk by chunk in the forward pass (the lm_head is frozen under LoRA).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F

ATTN_NAME = "packed_varlen"
IGNORE_INDEX = -100


@dataclass
class PackedBatch:
    input_ids: torch.Tensor     # [1, T]
    position_ids: torch.Tensor  # [1, T], restarting at 0 for each document
    labels: torch.Tensor        # [T], already shifted: labels[i] is the token after i, IGNORE_INDEX at doc ends
    cu_seqlens: torch.Tensor    # [n_docs + 1] int32
    max_len: int
    n_docs: int
    n_tokens: int               # real tokens in the row (== T: nothing is padding)


def pack_documents(docs: list[list[int]], device: str = "cpu") -> PackedBatch:
    """One padding-free row from whole documents (the caller chooses documents that fit the budget)."""
    if not docs or any(len(d) < 2 for d in docs):
        raise ValueError("pack_documents needs at least one document, each of two or more tokens")
    ids, pos, labels, cu = [], [], [], [0]
    for doc in docs:
        ids.extend(doc)
        pos.extend(range(len(doc)))
        labels.extend(doc[1:] + [IGNORE_INDEX])
        cu.append(cu[-1] + len(doc))
    return PackedBatch(
        input_ids=torch.tensor([ids], device=device),
        position_ids=torch.tensor([pos], device=device),
        labels=torch.tensor(labels, device=device),
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
        out = _flash_varlen(q.contiguous(), k.contiguous(), v.contiguous(), PACK.cu_seqlens, PACK.max_len, scaling)
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
