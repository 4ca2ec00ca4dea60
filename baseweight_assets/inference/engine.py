"""One in-process batched engine for local models: greedy decoding with a KV cache, PEFT LoRA adapters switched per
batch, closed-label constraints and per-token logprobs.

How ``LocalEngine.generate`` runs a list of requests:

1. Prompt. Each request's ``messages`` are rendered with the tokenizer's chat template plus the generation prompt
   (``chat_template_kwargs`` passed through), then tokenized without adding special tokens, which is what vLLM and
   ``transformers serve`` do. ``prompt_token_ids`` skips this.
2. Groups and shared prefix. Requests are grouped by adapter (``None``, the base model, first). Within a group, the
   longest common token prefix of the prompts (in a cell: the system prompt and the few-shot turns) has its KV cache
   computed once, at batch size 1. That cache is kept once, not copied per row, and each decode step reads it once
   for the whole batch. Prefixes are kept in a small LRU (``prefix_cache_bytes``), so later calls with the same
   system prompt (the latency probe, then the bulk) reuse it, as vLLM's prefix caching does. A reused entry's first
   m tokens are valid for any prompt that starts with those m tokens, because attention is causal.
3. Batches. The rest of each prompt (its suffix) is sorted by length, longest first, and cut into batches of at
   most ``max_batch_size`` rows and ``max_batch_tokens`` KV slots (rows x (longest suffix + longest
   ``max_new_tokens``)); a batch is also cut before its slots exceed ``MAX_PADDING`` times the slots its rows use
   (one long prompt would otherwise make every row's steps read its length). A batch is left-padded and prefilled
   in row chunks of about ``prefill_chunk_tokens``, rows of similar length together.
   Then it is decoded step by step: KV written in place into buffers sized for the batch, no copying per step.
   When at least half of a batch's rows have finished, the live rows are compacted.
4. Choice. Greedy argmax, ties going to the lowest token id. A row stops on a stop token (the chat template's
   end-of-turn and turn-start tokens plus the EOS ids of the tokenizer and generation config, e.g. SmolLM2's
   ``<|im_end|>`` 2 and ``<|im_start|>`` 1), when its closed label is complete (``allowed_outputs``, see
   ``constrained.py``), or at ``max_new_tokens`` ("length"). Logprobs are the model's raw log-softmax at the chosen
   token, before any constraint, as vLLM reports them by default.

Attention. Attention is the function registered with transformers' ``AttentionInterface`` under
``ENGINE_ATTENTION``. Everything else is the model's own code (embeddings, rotary, norms, MLP, PEFT LoRA layers).
The batch's KV buffers and the shared prefix are read through a context variable that only ``LocalEngine`` sets.
Prompt tokens (many per row) take one ``scaled_dot_product_attention`` call: causal when no row is padded, else
under a mask, over [shared prefix, own keys] when there is a prefix. One-token steps with a prefix compute scores
against the prefix in one product per KV head (the prefix is read once for the whole batch) and against each row's
own keys, then take one softmax over both: exact attention, no approximation. Without a prefix, a one-token step is
one fused SDPA call on CUDA, the same two products on CPU (faster there, measured). The KV cache is in the model's
dtype on CUDA and in fp32 on CPU. ``cuda_graphs=True`` replays each batch's one-token step from a CUDA graph.

Exactness. In fp32 (the CPU default) the generated tokens equal one-at-a-time ``model.generate`` on the same
prompts (tests: tiny model and SmolLM2). Logprobs agree to about 1e-5; the last bits depend on how the prompt was
split between the cached prefix and the batch. In bf16 (the CUDA default), different batch shapes round
differently. Near-ties between the top two logits (under about 1e-2 apart) can then flip, so bf16 outputs should be
compared per token with that tolerance, not bit for bit.

Timing. ``probe_latency`` runs requests one at a time. TTFT is measured from the start of a request (template and
tokenizer included) until its first token id is on the host: one prefill forward, the greedy choice, and a device
sync. ``RunStats`` reports the throughput of a call and its saturated throughput. Saturated counts only the
batches that the batch limits filled, and it is the figure the cost model uses.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from baseweight_assets.inference.constrained import LabelSetError, LabelTrie, TrieNode

ENGINE_ATTENTION = "baseweight_engine"
MIN_SHARED_PREFIX = 16  # shorter common prefixes are not worth a separate forward
MAX_PADDING = 2.0  # a batch's KV slots (rows x longest) stay within this multiple of the slots its rows use


class EngineInputError(ValueError):
    """A request cannot be run as given; the message names the request (its index in the call)."""


@dataclass(frozen=True)
class EngineRequest:
    """One greedy generation.

    Exactly one of ``messages`` (a chat, rendered with the model's template + generation prompt) and
    ``prompt_token_ids`` (used as is) is given. ``allowed_outputs``: the output must be exactly one of these strings.
    ``ignore_eos``: keep going past stop tokens (throughput benchmarks only, as vLLM's ``ignore_eos``).
    """

    messages: list[dict] | None = None
    max_new_tokens: int = 64
    adapter: str | None = None
    allowed_outputs: Sequence[str] | None = None
    logprobs: bool = False
    chat_template_kwargs: dict | None = None
    prompt_token_ids: Sequence[int] | None = None
    ignore_eos: bool = False


@dataclass(frozen=True)
class EngineResult:
    """``output_tokens`` counts every generated token, a generated stop token included (as vLLM's usage does); the
    stop token is not in ``text``. ``avg_logprob``/``token_logprobs``: raw model logprobs of the chosen tokens (None
    unless the request asked for logprobs)."""

    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" | "length"
    avg_logprob: float | None = None
    token_logprobs: tuple[float, ...] | None = None
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BatchStats:
    """One batch of one ``generate`` call. ``full``: the batch limits (rows or KV slots) filled it."""

    rows: int
    full: bool
    adapter: str | None
    shared_prefix_tokens: int
    prefilled_tokens: int  # suffix tokens run through the model, padding included
    output_tokens: int
    wall_s: float


@dataclass
class RunStats:
    """What a ``generate`` call did and how fast.

    ``output_tokens_per_s`` covers the whole call (rendering, prefix and every batch).
    ``saturated_output_tokens_per_s`` covers only the full batches, their output tokens over their wall time, and
    is None when no batch was full.
    """

    requests: int = 0
    wall_s: float = 0.0
    output_tokens: int = 0
    prefix_tokens_computed: int = 0
    prefix_tokens_reused: int = 0
    batches: list[BatchStats] = field(default_factory=list)

    @property
    def output_tokens_per_s(self) -> float | None:
        return self.output_tokens / self.wall_s if self.wall_s > 0 else None

    def throughput(self) -> Throughput | None:
        """Rows and output tokens over the wall time of the full batches, or of every batch when none was full
        (``all_full`` says which); None when no batch ran."""
        full = [b for b in self.batches if b.full]
        counted = full or self.batches
        wall = sum(b.wall_s for b in counted)
        if not counted or wall <= 0:
            return None
        rows, tokens = sum(b.rows for b in counted), sum(b.output_tokens for b in counted)
        return Throughput(rows=rows, batches=len(counted), output_tokens=tokens, wall_s=wall,
                          output_tokens_per_s=tokens / wall, requests_per_s=rows / wall, all_full=bool(full))

    @property
    def saturated_output_tokens_per_s(self) -> float | None:
        t = self.throughput()
        return t.output_tokens_per_s if t is not None and t.all_full else None

    @property
    def saturated_requests_per_s(self) -> float | None:
        t = self.throughput()
        return t.requests_per_s if t is not None and t.all_full else None


@dataclass(frozen=True)
class LatencyProbe:
    """``n`` requests run one at a time (concurrency 1): per-request latency and time to first token, in input order."""

    n: int
    latency_s: tuple[float, ...]
    ttft_s: tuple[float, ...]
    results: tuple[EngineResult, ...]


@dataclass(frozen=True)
class Throughput:
    """Output tokens over the wall time of full batches (see ``LocalEngine.saturated_throughput``). ``all_full``
    is False when the planner cut every batch short (rows too different in length to share one): the figure then
    covers all of them."""

    rows: int
    batches: int
    output_tokens: int
    wall_s: float
    output_tokens_per_s: float
    requests_per_s: float
    all_full: bool


# --------------------------------------------------------------------------------------------------- attention


class _Forward:
    """What the engine attention needs for one model forward: the KV buffers, the rows, where to write, the mask."""

    def __init__(self, kv: torch.Tensor, rows: slice, write: int, read: int, valid: torch.Tensor | None,
                 prefix: torch.Tensor | None, fused: bool):
        self.kv = kv  # (layers, 2, batch, kv_heads, capacity, head_dim)
        self.rows = rows
        self.write = write  # first slot written by this forward
        self.read = read  # first slot any of these rows can see (earlier slots are padding for all of them)
        # bool (rows, 1, 1, q, write + q - read): key slot visible to query; None when no row has padding in the
        # slots read (then a forward from slot 0 is plain causal attention, and a one-token step sees every slot)
        self.valid = valid
        self.prefix = prefix  # (layers, 2, kv_heads, prefix_len, head_dim) shared by every row, or None
        # CUDA kernels: one-token steps without a prefix take the fused kernel, and masked GQA packs the heads
        # (see _masked_attention). On CPU two small products beat the fused kernel for one-token steps (measured).
        self.fused = fused

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
        keys, values = self.kv[layer, 0, self.rows], self.kv[layer, 1, self.rows]
        out_dtype = q.dtype
        q = q.to(keys.dtype)
        b, heads, n, d = q.shape
        kv_heads = k.shape[1]
        group = heads // kv_heads
        end = self.write + n
        keys[:, :, self.write:end] = k
        values[:, :, self.write:end] = v
        keys, values = keys[:, :, self.read:end], values[:, :, self.read:end]
        if n > 1:
            if self.prefix is not None:
                out = self._prefill_with_prefix(layer, q, keys, values, scale)
            elif self.valid is None:  # unpadded prompt tokens (read == write): the fused causal kernel
                out = F.scaled_dot_product_attention(q, keys, values, is_causal=True, scale=scale,
                                                     enable_gqa=group > 1)
            else:
                out = _masked_attention(q, keys, values, self.valid[:, :, 0], scale, self.fused)
            return out.transpose(1, 2).to(out_dtype)
        # One new token per row. GQA: the `group` query heads sharing a KV head become rows of that head.
        qg = q.reshape(b, kv_heads, group, d)
        if self.prefix is None and self.fused:
            mask = None if self.valid is None else self.valid[:, :, 0, 0].unsqueeze(2)  # (rows, 1, 1, slots)
            out = F.scaled_dot_product_attention(qg, keys, values, attn_mask=mask, scale=scale)
        else:
            out = self._decode(layer, qg * scale, keys, values)
        return out.reshape(b, heads, 1, d).transpose(1, 2).to(out_dtype)

    def _prefill_with_prefix(self, layer, q, keys, values, scale):
        """Many queries per row: the fused kernel over [prefix, own keys] (a per-batch copy of the prefix, once per
        prefill; scores against a long prefix would be far larger than the keys)."""
        b, n = q.shape[0], q.shape[2]
        pk, pv = self.prefix[layer, 0], self.prefix[layer, 1]
        plen = pk.shape[1]
        all_keys = torch.cat([pk.unsqueeze(0).expand(b, -1, -1, -1), keys], dim=2)
        all_values = torch.cat([pv.unsqueeze(0).expand(b, -1, -1, -1), values], dim=2)
        own = self.valid[:, :, 0] if self.valid is not None else torch.ones(
            n, n, dtype=torch.bool, device=q.device).tril().expand(b, 1, n, n)
        mask = torch.cat([torch.ones(b, 1, n, plen, dtype=torch.bool, device=q.device), own], dim=-1)
        return _masked_attention(q, all_keys, all_values, mask, scale, self.fused)

    def _decode(self, layer, qg, keys, values):
        """One query per row, scaled: scores against the row's own keys, against the shared prefix in one product
        per KV head (the prefix is read once for the whole batch), and one softmax over both."""
        b, kv_heads, group, d = qg.shape
        s_own = torch.matmul(qg, keys.transpose(-1, -2)).float()  # (rows, kv_heads, group, slots)
        if self.valid is not None:
            s_own = s_own.masked_fill(~self.valid[:, :, 0], float("-inf"))
        if self.prefix is None:
            return torch.matmul(torch.softmax(s_own, dim=-1).to(values.dtype), values)
        pk, pv = self.prefix[layer, 0], self.prefix[layer, 1]  # (kv_heads, P, d)
        plen = pk.shape[1]
        qh = qg.transpose(0, 1).reshape(kv_heads, b * group, d)
        s_prefix = torch.matmul(qh, pk.transpose(-1, -2)).view(kv_heads, b, group, plen).transpose(0, 1)
        probs = torch.softmax(torch.cat([s_prefix.float(), s_own], dim=-1), dim=-1).to(values.dtype)
        p_prefix = probs[..., :plen].transpose(0, 1).reshape(kv_heads, b * group, plen)
        out = torch.matmul(probs[..., plen:], values)
        return out + torch.matmul(p_prefix, pv).view(kv_heads, b, group, d).transpose(0, 1)


class _FixedStep(_Forward):
    """A one-token step whose shapes never change, so that a CUDA graph can replay it: the slot written is a
    device tensor (``cursor``), and attention reads the whole capacity under a mask built on the device
    (slot >= the row's first slot and <= cursor). Same arithmetic as a ``_Forward`` step."""

    def __init__(self, kv: torch.Tensor, start: list[int], prefix: torch.Tensor | None, fused: bool):
        super().__init__(kv, slice(None), 0, 0, None, prefix, fused)
        device = kv.device
        self.cursor = torch.zeros((), dtype=torch.long, device=device)
        self.start = torch.tensor(start, device=device)
        self.slots = torch.arange(kv.shape[4], device=device)

    def prepare(self) -> None:
        """The step's mask from the current cursor (inside the graph: it runs on every replay)."""
        visible = (self.slots[None, :] >= self.start[:, None]) & (self.slots[None, :] <= self.cursor)
        self.valid = visible[:, None, None, None, :]  # (rows, 1, 1, 1, capacity)

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
        keys, values = self.kv[layer, 0], self.kv[layer, 1]
        out_dtype = q.dtype
        q = q.to(keys.dtype)
        b, heads, _, d = q.shape
        kv_heads = k.shape[1]
        keys.index_copy_(2, self.cursor.view(1), k.to(keys.dtype))
        values.index_copy_(2, self.cursor.view(1), v.to(values.dtype))
        qg = q.reshape(b, kv_heads, heads // kv_heads, d)
        if self.prefix is None and self.fused:
            out = F.scaled_dot_product_attention(qg, keys, values, attn_mask=self.valid[:, :, 0, 0].unsqueeze(2),
                                                 scale=scale)
        else:
            out = self._decode(layer, qg * scale, keys, values)
        return out.reshape(b, heads, 1, d).transpose(1, 2).to(out_dtype)


def _masked_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                      scale: float, pack_heads: bool) -> torch.Tensor:
    """SDPA with a (rows, 1, n, seen) mask and GQA. ``pack_heads`` (CUDA, where masked GQA would fall back to the
    math kernel): the query heads sharing a KV head become rows of that head, the mask repeated per head."""
    b, heads, n, d = q.shape
    kv_heads = keys.shape[1]
    group = heads // kv_heads
    if group == 1 or not pack_heads:
        return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=scale, enable_gqa=group > 1)
    packed_mask = mask.unsqueeze(2).expand(b, 1, group, n, mask.shape[-1]).reshape(b, 1, group * n, -1)
    out = F.scaled_dot_product_attention(q.reshape(b, kv_heads, group * n, d), keys, values, attn_mask=packed_mask,
                                         scale=scale)
    return out.view(b, heads, n, d)


_ACTIVE: ContextVar[_Forward | None] = ContextVar("baseweight_engine_forward", default=None)


def _engine_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    forward = _ACTIVE.get()
    if forward is None:
        raise RuntimeError(f"attention {ENGINE_ATTENTION!r} runs only inside LocalEngine; load the model with "
                           "attn_implementation='sdpa' for other uses")
    return forward.attend(module.layer_idx, query, key, value, module.scaling if scaling is None else scaling), None


AttentionInterface.register(ENGINE_ATTENTION, _engine_attention)


# ------------------------------------------------------------------------------------------------------ engine


@dataclass
class _Item:
    """One request being served: its tokens, constraint and decoding state."""

    index: int
    request: EngineRequest
    tokens: list[int]
    trie: LabelTrie | None
    suffix: list[int] = field(default_factory=list)
    node: TrieNode | None = None
    out: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish: str | None = None
    label: str | None = None
    first_token_at: float | None = None


def _common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _pick_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    picked = torch.device(device)
    if picked.type == "cuda" and picked.index is None:
        picked = torch.device("cuda", torch.cuda.current_device())
    return picked


def _pick_dtype(dtype, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16,
            "float32": torch.float32, "fp32": torch.float32}[dtype]


class LocalEngine:
    """Greedy batched generation for one base model and its LoRA adapters, in this process.

    ``base_model_dir``: a transformers model folder with tokenizer (and chat template when requests carry messages).
    ``adapters``: name -> PEFT adapter folder, loaded once at start; a request picks one by name (None = the base).
    ``device``/``dtype``: "auto" = CUDA in bf16 when available, else CPU in fp32.
    ``max_batch_size`` rows and ``max_batch_tokens`` KV slots per batch (defaults: CPU 32 rows / 65,536 slots; CUDA
    1,024 rows / as many slots as 60 % of the free memory holds after the weights).
    ``prefill_chunk_tokens``: rows prefilled per forward are capped so that rows x suffix length stays under it.
    ``prefix_cache_bytes``: memory kept for shared-prefix KV caches between calls (LRU).
    """

    def __init__(self, base_model_dir: Path | str, *, adapters: dict[str, Path] | None = None, device: str = "auto",
                 dtype: str | torch.dtype = "auto", max_batch_tokens: int | None = None,
                 max_batch_size: int | None = None, prefill_chunk_tokens: int | None = None,
                 prefix_cache_bytes: int | None = None, cuda_graphs: bool = False):
        self.model_dir = Path(base_model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir}: not a model folder (no config.json)")
        self.device = _pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device)
        cuda = self.device.type == "cuda"
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        load_kw = {"device_map": {"": str(self.device)}} if cuda else {}
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=self.dtype,
                                                     attn_implementation=ENGINE_ATTENTION, **load_kw)
        self.base = (model if cuda else model.to(self.device)).eval()  # device_map already placed it on CUDA
        self.peft = None
        self.adapters: dict[str, Path] = {}
        for name, path in (adapters or {}).items():
            self.add_adapter(name, path)
        cfg = self.base.config
        self.n_layers = cfg.num_hidden_layers
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.max_positions = getattr(cfg, "max_position_embeddings", None)
        # FLOPs of one token through the weights over FLOPs of one query-key pair of attention (all layers).
        embedding = self.base.get_input_embeddings().weight.numel()
        weights = sum(p.numel() for p in self.base.parameters()) - embedding
        heads = cfg.num_attention_heads
        self.token_pair_cost_ratio = 2 * weights / (4 * heads * self.head_dim * self.n_layers)
        # KV cache: the model's dtype on CUDA (bandwidth); fp32 on CPU, where bf16 attention products are slower
        # than fp32 ones (measured) and the cache is small.
        self.kv_dtype = self.dtype if cuda else torch.float32
        self.fused_attention = cuda  # which attention kernels (see _Forward); settable to test the CUDA choices
        # CUDA graphs replay each batch's one-token step (captured once per batch, after its first step): no
        # per-kernel launch cost, which is what bounds small models on a GPU. Fixed shapes mean no compaction and
        # attention over the whole capacity. `fixed_steps` runs the same fixed-shape steps without capture.
        self.cuda_graphs = bool(cuda_graphs) and cuda
        self.fixed_steps = self.cuda_graphs
        self.graph_fallback: str | None = None  # why capture was given up, if it was
        self.slot_bytes = 2 * self.n_layers * self.kv_heads * self.head_dim * torch.finfo(self.kv_dtype).bits // 8
        self.max_batch_size = max_batch_size or (1024 if cuda else 32)
        self.max_batch_tokens = max_batch_tokens or (self._cuda_slot_budget() if cuda else 65_536)
        self.prefill_chunk_tokens = prefill_chunk_tokens or (16_384 if cuda else 2_048)
        self.prefix_cache_bytes = prefix_cache_bytes if prefix_cache_bytes is not None else (
            4 << 30 if cuda else 256 << 20)
        self.stop_ids = self._stop_ids()
        self._tries: dict[tuple[str, ...], LabelTrie] = {}
        self._prefixes: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self.last_run = RunStats()

    # ---------------------------------------------------------------------------------------------- set-up

    def add_adapter(self, name: str, path: Path | str) -> None:
        """Load a PEFT adapter once under ``name`` (requests select it with ``adapter=name``)."""
        from peft import PeftModel

        path = Path(path)
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"adapter {name!r}: {path} has no adapter_config.json")
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} is already loaded (from {self.adapters[name]})")
        if self.peft is None:
            self.peft = PeftModel.from_pretrained(self.base, str(path), adapter_name=name, is_trainable=False)
            self.peft.eval()
        else:
            self.peft.load_adapter(str(path), adapter_name=name, is_trainable=False)
        self.adapters[name] = path

    def _cuda_slot_budget(self) -> int:
        free, _total = torch.cuda.mem_get_info(self.device)
        return max(4096, int(0.6 * free) // self.slot_bytes)

    def _stop_ids(self) -> tuple[int, ...]:
        """EOS ids of the generation config and tokenizer, plus the chat template's end-of-turn and turn-start
        tokens (when they are special tokens): emitting either means the assistant turn is over."""
        ids: set[int] = set()
        try:
            gen = GenerationConfig.from_pretrained(self.model_dir)
        except OSError:
            gen = self.base.generation_config
        for value in (gen.eos_token_id, self.tokenizer.eos_token_id):
            if value is not None:
                ids.update([value] if isinstance(value, int) else value)
        if getattr(self.tokenizer, "chat_template", None):
            special = set(self.tokenizer.all_special_ids) | set(self.tokenizer.added_tokens_decoder)
            user = [{"role": "user", "content": "q"}]
            try:
                with_prompt = self.tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
                without = self.tokenizer.apply_chat_template(user, add_generation_prompt=False, tokenize=False)
                answered = self.tokenizer.apply_chat_template(
                    user + [{"role": "assistant", "content": "MARKER"}], tokenize=False)
            except Exception:  # noqa: BLE001 - a template that cannot render this stays with the EOS ids
                return tuple(sorted(ids))
            tails = []
            if with_prompt.startswith(without):
                tails.append(with_prompt[len(without):])  # generation prompt: starts with the turn-start token
            if "MARKER" in answered:
                tails.append(answered.rsplit("MARKER", 1)[1])  # what follows an answer: the end-of-turn token
            for tail in tails:
                first = self.tokenizer(tail, add_special_tokens=False)["input_ids"][:1]
                if first and first[0] in special:
                    ids.add(first[0])
        return tuple(sorted(ids))

    def describe(self) -> dict:
        """What serves the requests, for run metadata."""
        import transformers

        return {"engine": "baseweight-local", "model_dir": str(self.model_dir), "device": str(self.device),
                "dtype": str(self.dtype).replace("torch.", ""), "attention": ENGINE_ATTENTION,
                "adapters": sorted(self.adapters), "max_batch_size": self.max_batch_size,
                "max_batch_tokens": self.max_batch_tokens, "stop_ids": list(self.stop_ids),
                "torch": torch.__version__, "transformers": transformers.__version__}

    # ------------------------------------------------------------------------------------------ public API

    def generate(self, requests: Sequence[EngineRequest],
                 on_batch_done: Callable[[list[int], list[EngineResult]], None] | None = None) -> list[EngineResult]:
        """Results in input order. ``on_batch_done(indices, results)`` is called as each batch finishes (indices into
        ``requests``), so a caller can store rows as they come: a crash loses at most the running batch. Every
        request is validated before any model work; a bad one raises ``EngineInputError`` naming its index."""
        t0 = time.perf_counter()
        items = [self._prepare(i, r) for i, r in enumerate(requests)]
        self.last_run = stats = RunStats(requests=len(items))
        results: list[EngineResult | None] = [None] * len(items)
        with torch.inference_mode():
            for adapter in sorted({it.request.adapter for it in items}, key=lambda a: (a is not None, a or "")):
                group = [it for it in items if it.request.adapter == adapter]
                with self._adapter(adapter):
                    for batch_items, batch_results in self._run_group(group, adapter, stats):
                        indices = [it.index for it in batch_items]
                        for i, res in zip(indices, batch_results):
                            results[i] = res
                        if on_batch_done is not None:
                            on_batch_done(indices, batch_results)
        stats.wall_s = time.perf_counter() - t0
        stats.output_tokens = sum(r.output_tokens for r in results)
        return results

    def probe_latency(self, requests: Sequence[EngineRequest], n: int,
                      on_batch_done: Callable[[list[int], list[EngineResult]], None] | None = None) -> LatencyProbe:
        """Run the first ``n`` requests one at a time; latency and TTFT per request (see the module docstring).
        Each request is validated just before it runs; the results are real results (a caller may store them)."""
        if n < 0:
            raise ValueError(f"probe_latency: n must be >= 0, got {n}")
        latencies, ttfts, results = [], [], []
        for i, request in enumerate(list(requests)[:n]):
            t0 = time.perf_counter()
            first: list[float] = []
            [result] = self._generate_one(i, request, first)
            latencies.append(time.perf_counter() - t0)
            ttfts.append(first[0] - t0)
            results.append(result)
            if on_batch_done is not None:
                on_batch_done([i], [result])
        return LatencyProbe(n=len(results), latency_s=tuple(latencies), ttft_s=tuple(ttfts), results=tuple(results))

    def saturated_throughput(self, requests: Sequence[EngineRequest], batches: int = 1) -> Throughput:
        """Output tokens per second of ``batches`` full batches made of ``requests`` (cycled when there are fewer
        than a full batch; results discarded). This is the throughput a server at saturation gets for this request
        mix. The cost model uses it, so measure on the requests whose cost is wanted."""
        requests = list(requests)
        if not requests:
            raise ValueError("saturated_throughput: no requests")
        items = [self._prepare(i, r) for i, r in enumerate(requests)]
        per_batch = self._full_batch_rows(items)
        cycled = [requests[i % len(requests)] for i in range(per_batch * batches)]
        self.generate(cycled)
        measured = self.last_run.throughput()
        if measured is None:
            raise RuntimeError("saturated_throughput: the timed batches took no measurable time")
        return measured

    def close(self) -> None:
        """Drop the model and caches (frees GPU memory)."""
        self._prefixes.clear()
        self.peft = self.base = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------- preparation

    def _prepare(self, index: int, request: EngineRequest) -> _Item:
        where = f"request {index}"
        if not isinstance(request, EngineRequest):
            raise EngineInputError(f"{where}: expected an EngineRequest, got {type(request).__name__}")
        if (request.messages is None) == (request.prompt_token_ids is None):
            raise EngineInputError(f"{where}: give exactly one of messages and prompt_token_ids")
        if not isinstance(request.max_new_tokens, int) or request.max_new_tokens < 1:
            raise EngineInputError(f"{where}: max_new_tokens must be an int >= 1, got {request.max_new_tokens!r}")
        if request.adapter is not None and request.adapter not in self.adapters:
            raise EngineInputError(f"{where}: unknown adapter {request.adapter!r} (loaded: {sorted(self.adapters)})")
        if request.messages is not None:
            tokens = self._render(where, request)
        else:
            tokens = [int(t) for t in request.prompt_token_ids]
            vocab = self.base.get_input_embeddings().num_embeddings
            bad = [t for t in tokens if not 0 <= t < vocab]
            if bad:
                raise EngineInputError(f"{where}: token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        if not tokens:
            raise EngineInputError(f"{where}: the prompt is empty")
        if self.max_positions and len(tokens) + request.max_new_tokens > self.max_positions:
            raise EngineInputError(f"{where}: {len(tokens)} prompt tokens + max_new_tokens {request.max_new_tokens} "
                                   f"exceed the model's {self.max_positions} positions")
        trie = None
        if request.allowed_outputs is not None:
            if request.ignore_eos:
                raise EngineInputError(f"{where}: allowed_outputs and ignore_eos cannot be combined")
            key = tuple(request.allowed_outputs)
            if key not in self._tries:
                try:
                    self._tries[key] = LabelTrie.from_labels(key, self.tokenizer)
                except LabelSetError as exc:
                    raise EngineInputError(f"{where}: allowed_outputs: {exc}") from None
            trie = self._tries[key]
        return _Item(index=index, request=request, tokens=tokens, trie=trie, node=trie.root if trie else None)

    def _render(self, where: str, request: EngineRequest) -> list[int]:
        messages = request.messages
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            raise EngineInputError(f"{where}: messages must be a non-empty list of {{'role', 'content'}} dicts")
        if not getattr(self.tokenizer, "chat_template", None):
            raise EngineInputError(f"{where}: the tokenizer in {self.model_dir} has no chat template")
        try:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                      **(request.chat_template_kwargs or {}))
        except Exception as exc:  # noqa: BLE001 - template errors are input errors, named
            raise EngineInputError(f"{where}: the chat template failed: {type(exc).__name__}: {exc}") from None
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _adapter(self, adapter: str | None):
        if self.peft is None:
            return _nullcontext()
        if adapter is None:
            return self.peft.disable_adapter()
        self.peft.set_adapter(adapter)
        return _nullcontext()

    # ------------------------------------------------------------------------------------ prefix and batches

    def _shared_prefix(self, group: list[_Item], adapter: str | None, stats: RunStats) -> torch.Tensor | None:
        """KV of the longest prefix common to ``group`` (leaving each prompt at least one token), or None."""
        first = group[0].tokens
        common = min(len(it.tokens) for it in group) - 1
        for it in group[1:]:
            common = min(common, _common_prefix_length(first, it.tokens))
            if common < MIN_SHARED_PREFIX:
                return None
        if common < MIN_SHARED_PREFIX:
            return None
        target = first[:common]
        best_key, best = None, 0
        for key in self._prefixes:
            if key[0] == adapter:
                m = _common_prefix_length(key[1], target)
                if m > best:
                    best_key, best = key, m
        # Reusing m cached tokens leaves (common - m) more tokens to compute in every row; computing the whole
        # common prefix afresh costs `common` tokens once.
        if best_key is not None and best >= MIN_SHARED_PREFIX and len(group) * (common - best) <= common:
            self._prefixes.move_to_end(best_key)
            stats.prefix_tokens_reused += best
            return self._prefixes[best_key][:, :, :, :best]
        kv = self._compute_prefix(target)
        stats.prefix_tokens_computed += len(target)
        self._prefixes[(adapter, tuple(target))] = kv
        while len(self._prefixes) > 1 and sum(t.numel() * t.element_size()
                                              for t in self._prefixes.values()) > self.prefix_cache_bytes:
            self._prefixes.popitem(last=False)
        return kv

    def _compute_prefix(self, tokens: list[int]) -> torch.Tensor:
        kv = self._new_kv(1, len(tokens))
        ids = torch.tensor([tokens], device=self.device)
        fwd = _Forward(kv, slice(None), 0, 0, None, None, self.fused_attention)
        self._forward(fwd, ids, self._positions(ids, 0, [0]))
        return kv[:, :, 0].contiguous()  # (layers, 2, kv_heads, P, head_dim)

    def _full_batch_rows(self, items: list[_Item]) -> int:
        longest = max(len(it.tokens) for it in items)
        new = max(it.request.max_new_tokens for it in items)
        return max(1, min(self.max_batch_size, self.max_batch_tokens // (longest + new)))

    def _plan(self, group: list[_Item]) -> list[tuple[list[_Item], bool]]:
        """Batches of the group, longest suffix first; ``full``: the limits stopped the batch growing."""
        order = sorted(group, key=lambda it: (-len(it.suffix), -it.request.max_new_tokens, it.index))
        batches: list[tuple[list[_Item], bool]] = []
        current: list[_Item] = []
        new = 0  # longest max_new_tokens in the current batch
        used = 0  # KV slots the current batch's rows really use
        for it in order:
            if current:
                width = len(current[0].suffix) + max(new, it.request.max_new_tokens)
                if len(current) + 1 > self.max_batch_size or (len(current) + 1) * width > self.max_batch_tokens:
                    batches.append((current, True))
                    current, new, used = [], 0, 0
                elif (len(current) + 1) * width > MAX_PADDING * (used + len(it.suffix) + it.request.max_new_tokens):
                    # every step reads each row's slots from the batch's first one: cut before padding dominates
                    batches.append((current, False))
                    current, new, used = [], 0, 0
            current.append(it)
            new = max(new, it.request.max_new_tokens)
            used += len(it.suffix) + it.request.max_new_tokens
        if current:
            width = len(current[0].suffix) + new
            full = len(current) >= self.max_batch_size or (len(current) + 1) * width > self.max_batch_tokens
            batches.append((current, full))
        return batches

    def _run_group(self, group: list[_Item], adapter: str | None, stats: RunStats):
        prefix = self._shared_prefix(group, adapter, stats)
        plen = 0 if prefix is None else prefix.shape[3]
        for it in group:
            it.suffix = it.tokens[plen:]
        for batch, full in self._plan(group):
            t0 = time.perf_counter()
            shared = prefix if prefix is not None and self._share_prefix(batch, plen) else None
            if shared is None and prefix is not None:
                for it in batch:
                    it.suffix = it.tokens
            results, prefilled = self._run_batch(batch, shared)
            stats.batches.append(BatchStats(
                rows=len(batch), full=full, adapter=adapter, shared_prefix_tokens=plen if shared is not None else 0,
                prefilled_tokens=prefilled, output_tokens=sum(r.output_tokens for r in results),
                wall_s=time.perf_counter() - t0))
            yield batch, results

    def _share_prefix(self, batch: list[_Item], plen: int) -> bool:
        """Whether this batch uses the shared prefix or runs it again in each row. Shared, a row's w prompt tokens
        attend to plen + w keys under a mask (w x (plen + w) query-key pairs); unshared, its plen + w tokens take the
        causal kernel ((plen + w)^2 / 2 pairs) but plen more tokens go through the weights. Pairs and tokens are
        compared by the model's cost ratio. Long suffixes behind a short prefix (an MBPP prompt with 3.8k tokens of
        test data) run it again; a long system prompt before short questions stays shared."""
        width = max(len(it.suffix) for it in batch)
        extra_pairs = sum((plen + len(it.suffix)) * (len(it.suffix) - plen) / 2 for it in batch)
        fits = len(batch) * (width + plen + max(it.request.max_new_tokens for it in batch)) <= self.max_batch_tokens
        return extra_pairs <= len(batch) * plen * self.token_pair_cost_ratio or not fits

    def _generate_one(self, index: int, request: EngineRequest, first_token_at: list[float]) -> list[EngineResult]:
        item = self._prepare(index, request)
        stats = RunStats(requests=1)
        with torch.inference_mode(), self._adapter(request.adapter):
            [(_, results)] = list(self._run_group([item], request.adapter, stats))
        first_token_at.append(item.first_token_at)
        return results

    # ------------------------------------------------------------------------------------------- one batch

    def _new_kv(self, rows: int, capacity: int) -> torch.Tensor:
        # Zeros, not empty: slots left unwritten are masked, and a masked 0 x NaN from stale memory would be NaN.
        return torch.zeros(self.n_layers, 2, rows, self.kv_heads, capacity, self.head_dim, dtype=self.kv_dtype,
                           device=self.device)

    def _prefill_mask(self, start: list[int], width: int) -> torch.Tensor | None:
        """Query slot i sees key slot j when start <= j <= i; a padding query sees itself (keeps softmax finite).
        None when no row is padded (plain causal attention)."""
        if not any(start):
            return None
        j = torch.arange(width, device=self.device)
        causal = j[None, :] <= j[:, None]
        first = torch.tensor(start, device=self.device)
        valid = (j[None, None, :] >= first[:, None, None]) & causal[None]
        valid |= torch.eye(width, dtype=torch.bool, device=self.device)[None]
        return valid[:, None, None]  # (rows, 1, 1, width, width)

    def _positions(self, ids: torch.Tensor, plen: int, start: list[int]) -> torch.Tensor:
        """Position of each left-padded token: the shared prefix first, then the row's own tokens."""
        first = torch.tensor(start, device=self.device)
        pos = torch.arange(ids.shape[1], device=self.device)[None, :] - first[:, None]
        return (pos + plen).clamp_min(0)

    def _prefill_chunks(self, batch: list[_Item]) -> list[tuple[int, int]]:
        """Consecutive row ranges prefilled together (rows are longest first): at most prefill_chunk_tokens
        padded tokens, and a row under 3/4 of the chunk's longest starts a new chunk (padding stays under 25 %)."""
        chunks, a = [], 0
        for r in range(1, len(batch) + 1):
            if r == len(batch):
                chunks.append((a, r))
                break
            width = len(batch[a].suffix)
            if (r - a + 1) * width > self.prefill_chunk_tokens or len(batch[r].suffix) < 0.75 * width:
                chunks.append((a, r))
                a = r
        return chunks

    def _forward(self, fwd: _Forward, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        token = _ACTIVE.set(fwd)
        try:
            out = self.base(input_ids=ids, position_ids=positions, use_cache=False, logits_to_keep=1)
        finally:
            _ACTIVE.reset(token)
        return out.logits[:, -1, :].float()

    def _run_batch(self, batch: list[_Item], prefix: torch.Tensor | None) -> tuple[list[EngineResult], int]:
        try:
            return self._decode_batch(batch, prefix)
        except torch.cuda.OutOfMemoryError:
            if len(batch) == 1:
                raise
            torch.cuda.empty_cache()
            self.max_batch_size = max(1, len(batch) // 2)  # later batches start smaller too
            for it in batch:
                it.out, it.logprobs, it.finish, it.label, it.first_token_at = [], [], None, None, None
                it.node = it.trie.root if it.trie else None
            half = len(batch) // 2
            a, pa = self._run_batch(batch[:half], prefix)
            b, pb = self._run_batch(batch[half:], prefix)
            return a + b, pa + pb

    def _decode_batch(self, batch: list[_Item], prefix: torch.Tensor | None) -> tuple[list[EngineResult], int]:
        plen = 0 if prefix is None else prefix.shape[3]
        rows = len(batch)
        width = max(len(it.suffix) for it in batch)
        new = max(it.request.max_new_tokens for it in batch)
        kv = self._new_kv(rows, width + new)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((rows, width), pad, dtype=torch.long)
        for r, it in enumerate(batch):
            ids[r, width - len(it.suffix):] = torch.tensor(it.suffix)
        ids = ids.to(self.device)
        start = [width - len(it.suffix) for it in batch]  # first slot of each row's own tokens
        lengths = torch.tensor([plen + len(it.suffix) for it in batch], device=self.device)
        prefilled = 0
        logits_parts = []
        for a, b in self._prefill_chunks(batch):
            w = max(len(it.suffix) for it in batch[a:b])  # this chunk's rows sit right-aligned in the last w slots
            local = [s - (width - w) for s in start[a:b]]
            chunk_ids = ids[a:b, width - w:]
            fwd = _Forward(kv, slice(a, b), width - w, width - w, self._prefill_mask(local, w), prefix,
                           self.fused_attention)
            logits_parts.append(self._forward(fwd, chunk_ids, self._positions(chunk_ids, plen, local)))
            prefilled += (b - a) * w
        live = list(range(rows))  # batch rows still decoding, in KV-row order
        chosen = self._choose(batch, live, torch.cat(logits_parts))
        if self.fixed_steps:
            self._decode_fixed(batch, kv, start, lengths, prefix, chosen)
            return [self._result(it) for it in batch], prefilled
        slots = torch.arange(width + new, device=self.device)
        step = 0
        while True:
            running = [(k, r) for k, r in enumerate(live) if batch[r].finish is None]
            if not running:
                break
            if len(running) <= len(live) // 2:  # compact: drop finished rows from the KV buffers
                keep = torch.tensor([k for k, _ in running], device=self.device)
                kv = kv.index_select(2, keep)
                lengths = lengths[keep]
                start = [start[k] for k, _ in running]
                chosen = chosen[keep]
                live = [r for _, r in running]
            write, read = width + step, min(start)
            # The last choices, already on the device: no host-built input per step. A finished row is fed its
            # placeholder choice; rows never attend to each other, and its outputs are no longer read.
            inputs = chosen[:, None]
            valid = None
            if max(start) > read:
                first = torch.tensor(start, device=self.device)
                valid = (slots[read: write + 1][None, :] >= first[:, None])[:, None, None, None, :]
            positions = (lengths + step)[:, None]
            logits = self._forward(_Forward(kv, slice(None), write, read, valid, prefix, self.fused_attention),
                                   inputs, positions)
            chosen = self._choose(batch, live, logits)
            step += 1
        return [self._result(it) for it in batch], prefilled

    def _decode_fixed(self, batch, kv, start, lengths, prefix, chosen) -> None:
        """Decode with fixed-shape steps; on CUDA with graphs on, step 0 runs eagerly (on a side stream, as capture
        requires), the step is captured, its first replay is checked against an eager run of the same step, and
        the rest replay the graph."""
        rows = len(batch)
        width = kv.shape[4] - max(it.request.max_new_tokens for it in batch)
        step_obj = _FixedStep(kv, start, prefix, self.fused_attention)
        ids = torch.zeros(rows, 1, dtype=torch.long, device=self.device)
        positions = torch.zeros(rows, 1, dtype=torch.long, device=self.device)
        live = list(range(rows))

        def run() -> torch.Tensor:
            step_obj.prepare()
            return self._forward(step_obj, ids, positions)

        graph, graph_logits = None, None
        step = 0
        while any(it.finish is None for it in batch):
            ids.copy_(chosen[:, None])  # finished rows too: their outputs are no longer read
            positions.copy_((lengths + step)[:, None])
            step_obj.cursor.fill_(width + step)
            if graph is not None:
                graph.replay()
                logits = graph_logits
            elif self.cuda_graphs and step == 0:
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    logits = run().clone()
                torch.cuda.current_stream().wait_stream(side)
                graph, graph_logits = self._capture(run)
            else:
                logits = run()
            if graph is not None and step == 1:  # the first replay must equal an eager run of the same step
                eager = run()
                if not torch.allclose(eager, logits, rtol=1e-3, atol=1e-3):
                    self.graph_fallback = (f"graph replay differed from eager by "
                                           f"{(eager - logits).abs().max().item():.3g}; graphs turned off")
                    self.cuda_graphs = self.fixed_steps = False
                    graph, logits = None, eager
            chosen = self._choose(batch, live, logits)
            step += 1

    def _capture(self, run) -> tuple[object, torch.Tensor] | tuple[None, None]:
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                logits = run()
            return graph, logits
        except Exception as exc:  # noqa: BLE001 - eager steps are always correct; say why graphs were dropped
            self.graph_fallback = f"capture failed: {type(exc).__name__}: {str(exc)[:200]}"
            self.cuda_graphs = self.fixed_steps = False  # this batch ends with eager fixed steps, later ones dynamic
            return None, None

    def _choose(self, batch: list[_Item], live: list[int], logits: torch.Tensor) -> torch.Tensor:
        """Greedy choice for the KV rows ``live`` (batch indices), constraint and stop rules applied; returns the
        chosen token per KV row on the device (finished rows get a placeholder), the next step's input."""
        now = None
        constrained = [(k, batch[r]) for k, r in enumerate(live) if batch[r].finish is None and batch[r].trie]
        scores = logits
        if constrained:
            mask = torch.full((len(constrained), logits.shape[1]), float("-inf"), device=logits.device)
            for j, (_, it) in enumerate(constrained):
                mask[j, LabelTrie.allowed(it.node, self.stop_ids)] = 0.0
            scores = logits.clone()
            rows_idx = torch.tensor([k for k, _ in constrained], device=logits.device)
            scores[rows_idx] += mask
        chosen = scores.argmax(dim=-1)
        want_lp = [k for k, r in enumerate(live) if batch[r].finish is None and batch[r].request.logprobs]
        lps: dict[int, float] = {}
        if want_lp:
            idx = torch.tensor(want_lp, device=logits.device)
            sub = logits[idx]
            lp = sub.gather(1, chosen[idx][:, None])[:, 0] - torch.logsumexp(sub, dim=-1)
            lps = dict(zip(want_lp, lp.tolist()))
        chosen_host = chosen.tolist()
        now = time.perf_counter()
        for k, r in enumerate(live):
            it = batch[r]
            if it.finish is not None:
                continue
            tok = chosen_host[k]
            if it.first_token_at is None:
                it.first_token_at = now
            it.out.append(tok)
            if k in lps:
                it.logprobs.append(lps[k])
            if it.trie is not None:
                if tok in it.node.children:
                    it.node = it.node.children[tok]
                    if it.node.is_leaf:
                        it.finish, it.label = "stop", it.node.label
                        continue
                else:  # a stop id at a label's end (the only other allowed choice)
                    it.finish, it.label = "stop", it.node.label
                    continue
            elif tok in self.stop_ids and not it.request.ignore_eos:
                it.finish = "stop"
                continue
            if len(it.out) >= it.request.max_new_tokens:
                it.finish = "length"
        return chosen

    def _result(self, it: _Item) -> EngineResult:
        out = it.out
        if it.label is not None:
            text = it.label
        else:
            shown = out[:-1] if it.finish == "stop" and out and out[-1] in self.stop_ids else out
            text = self.tokenizer.decode(shown, skip_special_tokens=True)
        lps = tuple(it.logprobs) if it.request.logprobs else None
        return EngineResult(text=text, input_tokens=len(it.tokens), output_tokens=len(out), finish_reason=it.finish,
                            avg_logprob=(sum(lps) / len(lps)) if lps else None, token_logprobs=lps,
                            token_ids=tuple(out))


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
