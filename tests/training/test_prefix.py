"""Shared-prefix batches (training/prefix.py): the prompt common to a batch runs once, yet the loss and the LoRA
gradients equal the plain per-row computation (HF's own loss on each row), in fp32, on a tiny random Llama and on
the real SmolLM2 with rows rendered by the project's chat rendering."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from baseweight_assets.training import prefix as pf
from baseweight_assets.training.rendering import IGNORE_INDEX

SMOLLM2 = Path(__file__).resolve().parents[2] / ".cache" / "models" / "smollm2-135m"
X = IGNORE_INDEX


def test_prefix_stops_before_the_first_position_that_predicts_a_label():
    rows = [{"input_ids": [1, 2, 3, 4, 5, 6], "labels": [X, X, X, X, 5, 6]},
            {"input_ids": [1, 2, 3, 4, 9, 9, 7], "labels": [X, X, X, X, X, 9, 7]}]
    # tokens 0..3 are common, but position 3 predicts row 0's first label (token 4): it must stay in the suffix
    assert pf.shared_prefix_length(rows) == 3
    assert pf.shared_prefix_length([{"input_ids": [1, 2, 3], "labels": [X, X, 3]}] * 2) == 1
    assert pf.shared_prefix_length([{"input_ids": [1, 2], "labels": [1, 2]},
                                    {"input_ids": [1, 3], "labels": [X, 3]}]) == 0
    assert pf.shared_prefix_length([{"input_ids": [5, 2, 3, 4], "labels": [X, X, X, 4]},
                                    {"input_ids": [6, 2, 3, 4], "labels": [X, X, X, 4]}]) == 0


def test_collated_batch_holds_padded_suffixes_and_shifted_labels():
    rows = [{"input_ids": [1, 2, 3, 4, 5, 6], "labels": [X, X, X, X, 5, 6]},
            {"input_ids": [1, 2, 3, 4, 9, 9, 7], "labels": [X, X, X, X, X, 9, 7]}]
    batch = pf.SharedPrefixCollator(pad_id=0, min_prefix=2)(rows)
    assert batch["prefix_ids"].tolist() == [[1, 2, 3]]
    assert batch["input_ids"].tolist() == [[4, 5, 6, 0], [4, 9, 9, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1]]
    # entry j is the target of suffix position j, i.e. of the token at prefix + j + 1
    assert batch["labels"].tolist() == [[5, 6, X, X], [X, 9, 7, X]]
    assert batch["shift_labels"] is batch["labels"]
    assert int(batch["attention_mask"].sum()) == 13  # the rows' real tokens: what the trainer counts as trained

    plain = pf.SharedPrefixCollator(pad_id=0, min_prefix=4)(rows)  # prefix of 3 < 4: rows run whole
    assert plain["prefix_ids"].shape == (1, 0)
    assert plain["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6, 0], [1, 2, 3, 4, 9, 9, 7]]
    assert plain["labels"].tolist() == [[X, X, X, 5, 6, X, X], [X, X, X, X, 9, 7, X]]
    with pytest.raises(ValueError, match="empty batch"):
        pf.SharedPrefixCollator(pad_id=0)([])


def _lora(model_dir: Path, dropout: float = 0.0):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, attn_implementation="sdpa")
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules="all-linear",
                                            use_rslora=True, task_type="CAUSAL_LM"))
    with torch.no_grad():  # non-zero B: the comparison covers the adapter path too
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model


def _reference(model, rows):
    """HF's own loss, one row at a time, token-weighted over the batch, and its LoRA gradients."""
    causal_lm = model.get_base_model()
    total, count = 0.0, 0
    for row in rows:
        out = causal_lm(input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]]),
                        use_cache=False)
        n = sum(1 for x in row["labels"][1:] if x != X)
        total, count = total + out.loss * n, count + n
    loss = total / count
    return loss, torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])


def _shared(model, batch, share=True):
    loss_sum, n = pf.supervised_loss_sum(model.get_base_model(), batch, share_prefix=share)
    loss = loss_sum / n
    return loss, torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])


def _max_rel(got, want) -> float:
    return max(float((g - w).abs().max() / w.abs().max()) for g, w in zip(got, want, strict=True))


def _random_rows(n: int, prefix_len: int, vocab: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    prefix = [rng.randrange(5, vocab) for _ in range(prefix_len)]
    rows = []
    for _ in range(n):  # suffixes of different lengths (padding), answers of different lengths
        user = [rng.randrange(5, vocab) for _ in range(rng.randint(2, 12))]
        answer = [rng.randrange(5, vocab) for _ in range(rng.randint(1, 6))]
        ids = prefix + user + answer
        rows.append({"input_ids": ids, "labels": [X] * (len(ids) - len(answer)) + answer})
    return rows


def test_padded_suffixes_or_rows_apart_by_what_padding_would_cost():
    assert pf.rows_apart([10, 100], width=100)  # 110 + 2 calls < 200 slots
    assert not pf.rows_apart([95, 100], width=100)  # little padding: one padded call
    assert not pf.rows_apart([5], width=5)


@pytest.mark.parametrize("row_call_tokens", [0, 10**6], ids=["rows-apart", "padded"])
def test_shared_prefix_loss_and_lora_gradients_equal_the_per_row_reference_tiny(tiny_model_dir, monkeypatch,
                                                                                row_call_tokens):
    monkeypatch.setattr(pf, "ROW_CALL_TOKENS", row_call_tokens)
    model = _lora(tiny_model_dir).train()  # dropout 0: train mode is deterministic
    rows = _random_rows(5, prefix_len=40, vocab=300)
    batch = pf.SharedPrefixCollator(pad_id=0)(rows)
    assert batch["prefix_ids"].shape[1] >= 40 and batch["input_ids"].shape[1] < 20  # the prefix is really shared
    assert pf.supports_shared_prefix(model.get_base_model()) is None

    ref_loss, ref_grads = _reference(model, rows)
    loss, grads = _shared(model, batch)
    plain_loss, plain_grads = _shared(model, batch, share=False)
    assert abs(loss.item() - ref_loss.item()) / ref_loss.item() < 1e-5
    assert _max_rel(grads, ref_grads) < 1e-5
    assert abs(plain_loss.item() - ref_loss.item()) / ref_loss.item() < 1e-5 and _max_rel(plain_grads, ref_grads) < 1e-5

    no_prefix = pf.SharedPrefixCollator(pad_id=0, min_prefix=10_000)(rows)  # the fallback: right-padded rows
    assert no_prefix["prefix_ids"].shape[1] == 0
    fallback_loss, fallback_grads = _shared(model, no_prefix)
    assert abs(fallback_loss.item() - ref_loss.item()) / ref_loss.item() < 1e-5
    assert _max_rel(fallback_grads, ref_grads) < 1e-5


@pytest.mark.parametrize("row_call_tokens", [0, 10**6], ids=["rows-apart", "padded"])
@pytest.mark.parametrize("min_prefix", [pf.MIN_SHARED_PREFIX, 10**6], ids=["shared", "no-prefix"])
def test_suffix_backward_inside_leaves_the_gradients_of_one_backward(tiny_model_dir, monkeypatch, row_call_tokens,
                                                                     min_prefix):
    """With LoRA dropout on: the same seed gives the same masks, so .grad must match one backward of the whole loss."""
    monkeypatch.setattr(pf, "ROW_CALL_TOKENS", row_call_tokens)
    model = _lora(tiny_model_dir, dropout=0.1).train()
    lm, params = model.get_base_model(), [p for p in model.parameters() if p.requires_grad]
    batch = pf.SharedPrefixCollator(pad_id=0, min_prefix=min_prefix)(_random_rows(5, prefix_len=40, vocab=300, seed=7))
    scale = torch.tensor(50)  # e.g. the supervised tokens of the whole accumulated batch
    torch.manual_seed(11)
    loss_sum, n = pf.supervised_loss_sum(lm, batch)
    want_grads = torch.autograd.grad(loss_sum / scale, params)
    torch.manual_seed(11)
    loss, count = pf.loss_with_suffix_backward(lm, batch, scale)
    assert int(count) == int(n) and loss.item() == pytest.approx((loss_sum / scale).item(), rel=1e-6)
    loss.backward()
    assert _max_rel([p.grad for p in params], want_grads) < 1e-5


def test_an_evaluation_reuses_the_prefix_keys_and_values(tiny_model_dir):
    model = _lora(tiny_model_dir).eval()
    rows = _random_rows(6, prefix_len=40, vocab=300, seed=5)
    first, second = (pf.SharedPrefixCollator(pad_id=0)(part) for part in (rows[:3], rows[3:]))
    assert torch.equal(first["prefix_ids"], second["prefix_ids"])
    lm = model.get_base_model()
    with torch.no_grad():
        kv = pf.prefix_key_values(lm, first["prefix_ids"])
        for batch in (first, second):
            reused, n = pf.supervised_loss_sum(lm, batch, prefix_kv=kv)
            fresh, n_fresh = pf.supervised_loss_sum(lm, batch)
            assert torch.equal(reused, fresh) and int(n) == int(n_fresh)

        # a pass's cache: a longer prompt runs only its extra tokens, a shorter one is a slice, another one is new
        cache = pf.PrefixKVCache()
        full = torch.tensor([rows[0]["input_ids"][:45]])
        for ids in (full[:, :40], full, full[:, :42], full[:, 3:30]):
            got = cache.get(lm, ids)
            want = pf.prefix_key_values(lm, ids)
            assert len(got) == len(want) and cache.ids == tuple(ids[0].tolist())
            for (k, v), (k_want, v_want) in zip(got, want):
                assert k.shape == k_want.shape
                assert torch.allclose(k, k_want, atol=1e-5) and torch.allclose(v, v_want, atol=1e-5)
    with pytest.raises(RuntimeError, match="without gradients"):
        cache.get(lm, full)


def test_one_row_batch_and_eval_mode_without_gradients(tiny_model_dir):
    model = _lora(tiny_model_dir).eval()
    rows = _random_rows(1, prefix_len=40, vocab=300, seed=3)
    with torch.no_grad():
        loss_sum, n = pf.supervised_loss_sum(model.get_base_model(), pf.SharedPrefixCollator(pad_id=0)(rows))
        ref = model.get_base_model()(input_ids=torch.tensor([rows[0]["input_ids"]]),
                                     labels=torch.tensor([rows[0]["labels"]]), use_cache=False).loss
    assert int(n) == sum(1 for x in rows[0]["labels"][1:] if x != X)
    assert abs((loss_sum / n).item() - ref.item()) / ref.item() < 1e-5


def test_gradient_checkpointing_turns_sharing_off(tiny_model_dir):
    model = _lora(tiny_model_dir)
    model.get_base_model().gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    assert "gradient checkpointing" in pf.supports_shared_prefix(model.get_base_model())


@pytest.mark.skipif(not (SMOLLM2 / "model.safetensors").is_file(), reason=f"real SmolLM2 not converted at {SMOLLM2}")
def test_shared_prefix_equals_reference_on_real_smollm2_rows():
    from transformers import AutoTokenizer

    from baseweight_assets.training.rendering import tokenize_chats

    tok = AutoTokenizer.from_pretrained(SMOLLM2)
    system = ("You are an intent classifier for the customer-support inbox of a digital bank. Answer with exactly one "
              "intent name from this list: activate_my_card, card_arrival, card_linking, exchange_rate, lost_or_"
              "stolen_card, pending_transfer, top_up_failed, transfer_timing, wrong_amount_of_cash_received.")
    chats = [[{"role": "system", "content": system}, {"role": "user", "content": text},
              {"role": "assistant", "content": label}]
             for text, label in (("My card still has not arrived after two weeks.", "card_arrival"),
                                 ("Why is my transfer still pending?", "pending_transfer"),
                                 ("The ATM gave me less cash than I asked for", "wrong_amount_of_cash_received"))]
    rows, _ = tokenize_chats(["a", "b", "c"], chats, tok, max_seq_length=512)
    batch = pf.SharedPrefixCollator(pad_id=tok.pad_token_id)(rows)
    assert batch["prefix_ids"].shape[1] > 60  # system prompt and the user turn's opening tokens
    model = _lora(SMOLLM2).train()
    ref_loss, ref_grads = _reference(model, rows)
    loss, grads = _shared(model, batch)
    assert abs(loss.item() - ref_loss.item()) / ref_loss.item() < 1e-5
    assert _max_rel(grads, ref_grads) < 2e-5  # 9e-6 seen: fp32 rounding through 30 layers


def _long_prompt_messages(row: dict) -> list[dict]:
    return [{"role": "system", "content": "You are a helpful assistant. " * 6},
            {"role": "user", "content": row["fields"]["text"]}, {"role": "assistant", "content": row["target"]}]


@pytest.mark.parametrize("batch, accumulation", [(8, 1), (2, 4)])
def test_one_trainer_step_is_the_plain_sgd_step_whatever_the_split_of_the_batch(tiny_model_dir, tiny_config, tmp_path,
                                                                                batch, accumulation):
    """The CPU trainer's optimizer step on 8 rows with a long common prompt: 8 x 1 and 2 x 4 both move the LoRA weights
    by exactly -lr x the gradient of HF's token-mean loss over the 8 rows (SGD, no clipping, dropout 0)."""
    import copy
    import dataclasses

    from tiny_model import fruit_rows

    from baseweight_assets.training.backends import choose_backend, prepare_model
    from baseweight_assets.training.rendering import render_chats, tokenize_chats
    from baseweight_assets.training.trainer import build_trainer, load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    train = fruit_rows(8)
    data, _ = tokenize_chats([r["id"] for r in train], render_chats(train, _long_prompt_messages), tok,
                             max_seq_length=128)
    lr = 0.5
    config = tiny_config.model_copy(update={"per_device_batch_size": batch, "gradient_accumulation": accumulation,
                                            "learning_rate": lr, "lr_scheduler": "constant", "weight_decay": 0.0,
                                            "max_grad_norm": 0.0, "max_seq_length": 128})
    backend = dataclasses.replace(choose_backend(config, cuda=False), optimizer="sgd")
    assert backend.shared_prefix and not backend.padding_free
    model = prepare_model(tiny_model_dir, config, backend, tok)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    before = copy.deepcopy(model)
    _ref_loss, ref_grads = _reference(before.train(), data)

    trainer = build_trainer(model=model, tokenizer=tok, train_rows=data, val_rows=data[:4], config=config,
                            backend=backend, output_dir=tmp_path / "work", epochs=1)
    assert type(trainer).__name__.startswith("SharedPrefix") and trainer.shared_prefix_refused is None
    assert pf.SharedPrefixCollator(tok.pad_token_id)(data)["prefix_ids"].shape[1] >= pf.MIN_SHARED_PREFIX
    trainer.train()
    assert trainer.state.global_step == 1
    assert trainer.state.num_input_tokens_seen == sum(len(row["input_ids"]) for row in data)
    names = [n for n, p in before.named_parameters() if p.requires_grad]
    after = dict(model.named_parameters())
    moved = [after[n].detach() - p.detach() for n, p in before.named_parameters() if p.requires_grad]
    expected = [-lr * g for g in ref_grads]
    assert len(moved) == len(names) and _max_rel(moved, expected) < 1e-4

    # evaluation (prefix keys and values reused across its batches) == HF's loss on the trained weights, averaged
    # the Trainer's way: each batch's token mean, weighted by its rows
    got = trainer.evaluate()["eval_loss"]
    val, want, causal_lm = data[:4], 0.0, model.get_base_model()
    with torch.no_grad():
        for start in range(0, len(val), batch):
            part = val[start:start + batch]
            total = sum(causal_lm(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]]),
                                  use_cache=False).loss * sum(1 for x in r["labels"][1:] if x != X) for r in part)
            want += len(part) * total / sum(sum(1 for x in r["labels"][1:] if x != X) for r in part)
    assert got == pytest.approx(float(want) / len(val), rel=1e-5)
