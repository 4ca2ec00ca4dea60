"""The packed training path (training/packing.py) on CPU in fp32: exact packing, per-document positions,
chunked loss == full cross-entropy, packed forward == each document alone, and the trainer wired to it."""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tiny_model import fruit_rows, render_messages

from baseweight_assets.training import packing
from baseweight_assets.training.backends import choose_backend, prepare_model
from baseweight_assets.training.packing import IGNORE_INDEX

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _examples(n: int = 30, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(2, 40)
        ids = [rng.randrange(5, 300) for _ in range(length)]
        prompt = rng.randint(1, length - 1)  # assistant-only: the prompt part carries no label
        out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    return out


def test_pack_examples_keeps_every_token_and_label_once_within_budget():
    examples = _examples()
    rows = packing.pack_examples(examples, tokens_per_row=100, seed=3)
    packed = [(tuple(d), tuple(lab)) for row in rows for d, lab in zip(row["input_ids"], row["labels"])]
    assert sorted(packed) == sorted((tuple(e["input_ids"]), tuple(e["labels"])) for e in examples)
    assert all(sum(len(d) for d in row["input_ids"]) <= 100 for row in rows)
    assert len(rows) < len(examples)  # several examples share a row
    assert packing.pack_examples(examples, 100, seed=3) == rows  # deterministic (resume-safe)
    with pytest.raises(ValueError, match="exceeds tokens_per_step"):
        packing.pack_examples(examples, tokens_per_row=10)


def test_collated_row_has_shifted_assistant_labels_and_restarting_positions():
    examples = _examples(5)
    rows = packing.pack_examples(examples, tokens_per_row=10_000)
    assert len(rows) == 1
    out = packing.collate_packed_row(rows)
    ids, pos, labels = out["input_ids"][0].tolist(), out["position_ids"][0].tolist(), out["labels"][0].tolist()
    assert torch.equal(out["labels"], out["shift_labels"])
    assert out["cu_seqlens"].dtype == torch.int32
    assert out["cu_seqlens"].tolist() == [0] + list(torch.tensor([len(e["input_ids"]) for e in examples]).cumsum(0))
    start = 0
    for ex in examples:
        n = len(ex["input_ids"])
        assert ids[start:start + n] == ex["input_ids"]
        assert pos[start:start + n] == list(range(n))  # restarts per document
        assert labels[start:start + n] == ex["labels"][1:] + [IGNORE_INDEX]  # never predicts into the next doc
        start += n
    assert start == len(ids)  # no padding
    with pytest.raises(ValueError, match="one at a time"):
        packing.collate_packed_row(rows * 2)


def test_pack_documents_default_labels_are_the_documents():
    batch = packing.pack_documents([[1, 2, 3], [4, 5]])
    assert batch.labels.tolist() == [2, 3, IGNORE_INDEX, 5, IGNORE_INDEX]
    assert (batch.max_len, batch.n_docs, batch.n_tokens) == (3, 2, 5)
    with pytest.raises(ValueError):
        packing.pack_documents([[1]])
    with pytest.raises(ValueError, match="labels"):
        packing.pack_documents([[1, 2, 3]], labels=[[1, 2]])


def test_chunked_lm_loss_equals_full_cross_entropy_and_its_gradient():
    torch.manual_seed(0)
    hidden = torch.randn(37, 16, requires_grad=True)
    weight = torch.randn(50, 16)
    labels = torch.randint(0, 50, (37,))
    labels[[0, 5, 6, 30]] = IGNORE_INDEX
    full = F.cross_entropy(hidden @ weight.T, labels, ignore_index=IGNORE_INDEX)
    (full_grad,) = torch.autograd.grad(full * 3.0, hidden)
    chunked = packing.chunked_lm_loss(hidden, weight, labels, chunk_size=8)  # 37 is not a multiple of 8
    (chunked_grad,) = torch.autograd.grad(chunked * 3.0, hidden)
    assert torch.allclose(chunked, full, rtol=1e-6, atol=1e-6)
    assert torch.allclose(chunked_grad, full_grad, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="frozen"):
        packing.chunked_lm_loss(hidden, weight.clone().requires_grad_(), labels)


def _lora_model(model_dir, config, attn):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from baseweight_assets.training.backends import lora_config

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32,
                                                                attn_implementation=attn), lora_config(config))
    with torch.no_grad():  # non-zero B: the comparison covers the adapter path too
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model.eval()


def test_packed_forward_equals_each_document_alone(tiny_model_dir, tiny_config):
    """Hidden states, assistant-only loss and LoRA gradients of one packed row vs per-document SDPA, fp32."""
    examples = [e for e in _examples(6, seed=1)]
    packed_model = _lora_model(tiny_model_dir, tiny_config, packing.register_packed_attention())
    packing.prepare_packed_model(packed_model.get_base_model(), compile_layers=False)
    row = packing.collate_packed_row(packing.pack_examples(examples, 10_000))
    batch = packing.batch_from_inputs(row, max_len=64)
    causal_lm = packed_model.get_base_model()
    packing.set_pack_context(batch, max_len=64)
    hidden = causal_lm.get_decoder()(input_ids=batch.input_ids, position_ids=batch.position_ids).last_hidden_state[0]
    loss = packing.packed_lm_loss(causal_lm, batch, max_len=64, chunk_size=16)
    params = [p for p in packed_model.parameters() if p.requires_grad]
    packed_grads = torch.autograd.grad(loss, params)

    ref_model = _lora_model(tiny_model_dir, tiny_config, "sdpa")
    ref_lm = ref_model.get_base_model()
    ref_hidden, total, count = [], 0.0, 0
    for ex in examples:
        ids = torch.tensor([ex["input_ids"]])
        ref_hidden.append(ref_lm.get_decoder()(input_ids=ids).last_hidden_state[0])
        logits = ref_lm(input_ids=ids).logits[0, :-1]
        target = torch.tensor(ex["labels"][1:])
        total = total + F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum")
        count += int((target != IGNORE_INDEX).sum())
    ref_loss = total / count
    ref_grads = torch.autograd.grad(ref_loss, [p for p in ref_model.parameters() if p.requires_grad])

    assert torch.allclose(hidden, torch.cat(ref_hidden), atol=1e-5, rtol=1e-4)
    assert torch.allclose(loss, ref_loss, atol=1e-6, rtol=1e-5)
    for got, want in zip(packed_grads, ref_grads, strict=True):
        assert torch.allclose(got, want, atol=1e-6, rtol=1e-4)


def test_benchmark_correctness_check_passes_on_cpu():
    """The GPU benchmark's own check (packed vs per-document SDPA) runs on the package code, fp32 on CPU."""
    sys.path.insert(0, str(BENCHMARKS))
    import gpu_common
    import gpu_train_throughput

    assert gpu_train_throughput.pt is packing  # the benchmark measures the package's code
    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "use_rslora": True, "target_modules": "all-linear"}
    result = gpu_train_throughput.check_packed_matches_reference(gpu_common.tiny_config("qwen3"), lora, "cpu", 64)
    assert result["loss_rel_err"] < 1e-5 and result["grad_rel_err"] < 1e-4


def test_backend_takes_packed_path_only_on_cuda_with_packing_and_varlen(tiny_config, monkeypatch):
    import baseweight_assets.training.backends as backends

    monkeypatch.setattr(backends, "_bf16_ok", lambda config: True)
    have = {"unsloth": False, "bitsandbytes": False, "trl": True, "varlen": True}
    on = tiny_config.model_copy(update={"packing": True})
    assert choose_backend(on, cuda=True, available=have).packed_varlen
    assert "varlen flash attention" in choose_backend(on, cuda=True, available=have).why
    assert not choose_backend(tiny_config, cuda=True, available=have).packed_varlen  # packing off
    assert not choose_backend(on, cuda=False, available=have).packed_varlen  # CPU keeps its path
    no_varlen = choose_backend(on, cuda=True, available={**have, "varlen": False})
    assert not no_varlen.packed_varlen and "no nn.attention.varlen" in no_varlen.why
    assert not choose_backend(on, cuda=True, available={**have, "unsloth": True}).packed_varlen
    monkeypatch.setattr(backends, "_bf16_ok", lambda config: False)  # float32 on CUDA: no flash varlen kernel
    fp32 = choose_backend(on, cuda=True, available=have)
    assert fp32.dtype == "float32" and not fp32.packed_varlen and "needs bf16" in fp32.why
    monkeypatch.setattr(backends, "_bf16_ok", lambda config: True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not choose_backend(on, cuda=True, available=have).packed_varlen


def test_trainer_packed_loss_matches_plain_loss_and_trains(tiny_model_dir, tiny_config, tmp_path):
    """The trainer's packed path, forced on CPU (reference attention instead of the flash kernel)."""
    from baseweight_assets.training.rendering import render_chats, tokenize_chats
    from baseweight_assets.training.trainer import build_trainer, load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    rows = fruit_rows(12)
    data, _ = tokenize_chats([r["id"] for r in rows], render_chats(rows, render_messages), tok, max_seq_length=64)
    config = tiny_config.model_copy(update={"packing": True, "per_device_batch_size": 2, "gradient_accumulation": 2})
    backend = dataclasses.replace(choose_backend(config, cuda=False), packed_varlen=True)
    model = prepare_model(tiny_model_dir, config, backend, tok)
    assert model.get_base_model().config._attn_implementation == packing.ATTN_NAME
    trainer = build_trainer(model=model, tokenizer=tok, train_rows=data, val_rows=data[:4], config=config,
                            backend=backend, output_dir=tmp_path / "work", epochs=1)
    assert type(trainer).__name__.startswith("Packed") and len(trainer.train_dataset) < len(data)
    assert all(sum(len(d) for d in r["input_ids"]) <= 128 for r in trainer.train_dataset)

    model.eval()
    row = packing.collate_packed_row([trainer.train_dataset[0]])
    with torch.no_grad():
        got = trainer.compute_loss(model, row)
        plain = [model(input_ids=torch.tensor([d]), labels=torch.tensor([lab])) for d, lab in
                 zip(trainer.train_dataset[0]["input_ids"], trainer.train_dataset[0]["labels"])]
        n = [sum(1 for x in lab[1:] if x != IGNORE_INDEX) for lab in trainer.train_dataset[0]["labels"]]
        want = sum(o.loss * k for o, k in zip(plain, n)) / sum(n)
        # With an accumulated batch of 2 x the row's tokens, the row contributes half of its mean.
        halved = trainer.compute_loss(model, row, num_items_in_batch=torch.tensor(2 * sum(n)))
    assert torch.allclose(got, want, atol=1e-6) and torch.allclose(halved, want / 2, atol=1e-6)

    model.train()
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    evals = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    assert losses and evals and all(torch.isfinite(torch.tensor(losses + evals)))
    assert trainer.state.global_step == -(-len(trainer.train_dataset) // 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the varlen flash kernel needs a CUDA device; the CPU "
                    "path above uses the per-document SDPA reference instead")
def test_flash_varlen_matches_reference_on_cuda():
    torch.manual_seed(0)
    cu = torch.tensor([0, 17, 50, 64], dtype=torch.int32, device="cuda")
    q = torch.randn(64, 4, 32, device="cuda", dtype=torch.bfloat16)
    k, v = (torch.randn(64, 2, 32, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    out = packing._flash_varlen(q, k, v, cu, 64, 32 ** -0.5)
    ref = packing._reference_varlen(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), cu, 32 ** -0.5)
    assert torch.allclose(out.float(), ref.float(), atol=2e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the varlen flash kernel needs a CUDA device")
def test_fp32_queries_from_kbit_prepared_models_go_through_flash_in_bf16():
    """QLoRA's k-bit preparation keeps norms in fp32, so Qwen3's q/k arrive in fp32 (seen on an H200)."""
    torch.manual_seed(0)
    q = torch.randn(1, 4, 64, 32, device="cuda")
    k, v = (torch.randn(1, 2, 64, 32, device="cuda") for _ in range(2))
    batch = packing.pack_documents([[1] * 17, [2] * 47], device="cuda")
    packing.set_pack_context(batch, max_len=64)
    out, _ = packing.packed_varlen_attention(None, q, k, v, None, scaling=32 ** -0.5)
    ref = packing._reference_varlen(q[0].transpose(0, 1), k[0].transpose(0, 1).repeat_interleave(2, 1),
                                    v[0].transpose(0, 1).repeat_interleave(2, 1), batch.cu_seqlens, 32 ** -0.5)
    assert out.dtype == torch.float32 and torch.allclose(out[0], ref, atol=3e-2)


def test_benchmark_trainer_variant_times_train_adapter_steps_on_cpu(tiny_model_dir, tmp_path):
    """gpu_train_throughput's `trainer` variant: train_adapter on a saved random base, steps timed, tokens counted."""
    sys.path.insert(0, str(BENCHMARKS))
    import gpu_common
    import gpu_train_adapter

    config = gpu_common.tiny_config("qwen3", vocab_size=512)
    run = gpu_train_adapter.run_train_adapter(config, workload="mixed", tokens_per_step=256, max_len=64, warmup=1,
                                              steps=3, device="cpu", tokenizer_dir=tiny_model_dir, work=tmp_path)
    assert run["backend"] == "peft_cpu" and run["steps"] == 3 and run["seconds"] > 0
    assert run["n_params"] == gpu_train_adapter.saved_param_count(tmp_path / "base") > 0
    assert 0 < run["tokens"] <= run["adapter"]["trained_tokens"]  # the timed steps are part of the epoch
    assert len(list(tmp_path.glob("adapter-mixed-*/adapter_model.safetensors"))) == 1  # published like the asset's
