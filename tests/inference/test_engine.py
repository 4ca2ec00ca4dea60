"""LocalEngine: batched greedy generation equals one-at-a-time `model.generate`, adapters, labels, stops, stats.

Fast tests use tiny random Llama / Qwen3 models with the real SmolLM2 tokenizer and chat template (so the stop
tokens and the rendering are the real ones); the slow test uses the real SmolLM2-135M-Instruct.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config

from baseweight_assets.inference.constrained import LabelConstraintProcessor, LabelTrie
from baseweight_assets.inference.engine import (EngineInputError, EngineRequest, EngineResult, LocalEngine,
                                                MIN_SHARED_PREFIX)

SMOLLM2 = Path(__file__).resolve().parents[2] / ".cache" / "models" / "smollm2-135m"
needs_tokenizer = pytest.mark.skipif(not (SMOLLM2 / "tokenizer.json").is_file(),
                                     reason=f"real SmolLM2 tokenizer not built at {SMOLLM2}")
pytestmark = needs_tokenizer

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json")
SYSTEM = ("You are an intent classifier for the customer-support inbox of a digital bank. Answer with exactly one "
          "intent name from the list, copied verbatim, and nothing else. Intents: card_arrival, card_linking, "
          "cash_withdrawal, exchange_rate, lost_or_stolen_card, top_up_failed.")
QUESTIONS = ["My card has not arrived yet, what should I do?", "How do I top up?",
             "Why was I charged an exchange fee on my payment last Tuesday in Lisbon?", "Someone stole my card.",
             "Can I change my PIN at an ATM or only in the app, and does it cost anything?", "Transfer pending.",
             "Where is my money?"]
LABELS = ["card", "card_arrival", "card_linking", "cash_withdrawal", "exchange_rate", "lost_or_stolen_card"]


def _tiny(family: str, path: Path) -> Path:
    common = dict(vocab_size=49152, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=12, max_position_embeddings=2048, tie_word_embeddings=True,
                  bos_token_id=1, eos_token_id=2, pad_token_id=2, initializer_range=0.25)
    config = LlamaConfig(**common) if family == "llama" else Qwen3Config(**common)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(path)
    for name in TOKENIZER_FILES:
        shutil.copy2(SMOLLM2 / name, path / name)
    return path


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engine-models")
    return {family: _tiny(family, root / family) for family in ("llama", "qwen3")}


@pytest.fixture(scope="module")
def adapters(tiny_models, tmp_path_factory) -> dict[str, Path]:
    """Two random LoRA adapters (B initialised non-zero, so they change the outputs) on the tiny Llama."""
    from peft import LoraConfig, get_peft_model

    root = tmp_path_factory.mktemp("engine-adapters")
    out = {}
    for seed, (name, targets) in enumerate((("a", ["q_proj", "v_proj"]), ("b", ["k_proj", "o_proj", "down_proj"]))):
        base = AutoModelForCausalLM.from_pretrained(tiny_models["llama"], dtype=torch.float32)
        torch.manual_seed(100 + seed)
        peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=targets,
                                                     init_lora_weights=False))
        with torch.no_grad():
            for n, p in peft_model.named_parameters():
                if "lora_" in n:
                    p.mul_(4.0)
        peft_model.save_pretrained(root / name)
        out[name] = root / name
    return out


def _chat(question: str, system: str = SYSTEM) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def _reference(model, tokenizer, request: EngineRequest, stop_ids, processor_for=None) -> tuple[list[int], list[float]]:
    """One prompt alone through `model.generate` (sdpa, fp32): the generated ids and their raw logprobs."""
    if request.prompt_token_ids is not None:
        ids = list(request.prompt_token_ids)
    else:
        text = tokenizer.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False,
                                             **(request.chat_template_kwargs or {}))
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    x = torch.tensor([ids])
    kw = {}
    if processor_for is not None:
        kw["logits_processor"] = [processor_for(len(ids))]
    with torch.inference_mode():
        out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=request.max_new_tokens,
                             do_sample=False, eos_token_id=None if request.ignore_eos else list(stop_ids),
                             pad_token_id=2, output_logits=True, return_dict_in_generate=True, **kw)
    gen = out.sequences[0, len(ids):].tolist()
    logprobs = [torch.log_softmax(step[0].float(), -1)[t].item() for step, t in zip(out.logits, gen)]
    return gen, logprobs


def _load_reference(path: Path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()


def _assert_same(results: list[EngineResult], references, requests):
    for i, (res, (gen, lps), req) in enumerate(zip(results, references, requests)):
        assert list(res.token_ids) == gen, f"request {i}: engine {list(res.token_ids)} != generate {gen}"
        if req.logprobs:
            assert res.token_logprobs is not None and len(res.token_logprobs) == len(gen)
            assert max(abs(a - b) for a, b in zip(res.token_logprobs, lps)) < 1e-4, f"request {i}"
            assert res.avg_logprob == pytest.approx(sum(lps) / len(lps), abs=1e-4)


@pytest.mark.parametrize("family, fused, fixed", [("llama", False, False), ("qwen3", False, False),
                                                  ("llama", True, False), ("llama", False, True),
                                                  ("qwen3", True, True)])
def test_batched_equals_one_at_a_time_generate_with_shared_prefix(tiny_models, family, fused, fixed):
    """Shared system prompt (prefix path), prompts of different lengths (padding), several batches, prefill chunks
    and early-finishing rows (compaction): every row equals generate() on that prompt alone. ``fused``: the
    attention kernels the engine picks on CUDA; ``fixed``: the fixed-shape steps CUDA graphs replay; both run
    here on the CPU, without capture."""
    engine = LocalEngine(tiny_models[family], max_batch_size=3, prefill_chunk_tokens=40)
    engine.fused_attention, engine.fixed_steps = fused, fixed
    requests = [EngineRequest(messages=_chat(q), max_new_tokens=6 + 3 * (i % 3), logprobs=True)
                for i, q in enumerate(QUESTIONS)]
    results = engine.generate(requests)
    stats = engine.last_run
    assert stats.prefix_tokens_computed >= MIN_SHARED_PREFIX  # the system prompt was shared
    assert [b.rows for b in stats.batches] == [3, 3, 1]
    reference = _load_reference(tiny_models[family])
    refs = [_reference(reference, engine.tokenizer, r, engine.stop_ids) for r in requests]
    _assert_same(results, refs, requests)
    for res, req, (gen, _) in zip(results, requests, refs):
        assert res.output_tokens == len(gen)
        stopped = gen[-1] in engine.stop_ids
        assert res.finish_reason == ("stop" if stopped else "length")
        assert res.text == engine.tokenizer.decode(gen[:-1] if stopped else gen, skip_special_tokens=True)
        assert res.input_tokens == len(engine.tokenizer.apply_chat_template(
            req.messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])


@pytest.mark.parametrize("fused, fixed", [(False, False), (True, False), (False, True), (True, True)])
def test_without_a_shared_prefix_the_rows_still_equal_generate(tiny_models, fused, fixed):
    """Token prompts with nothing in common take the plain path (no prefix); same rule."""
    engine = LocalEngine(tiny_models["llama"], max_batch_size=4)
    engine.fused_attention, engine.fixed_steps = fused, fixed
    prompts = [[5 + 7 * i + j for j in range(3 + 4 * i)] for i in range(5)]
    requests = [EngineRequest(prompt_token_ids=p, max_new_tokens=7, logprobs=True, ignore_eos=True)
                for p in prompts]
    results = engine.generate(requests)
    assert engine.last_run.prefix_tokens_computed == 0 and engine.last_run.prefix_tokens_reused == 0
    reference = _load_reference(tiny_models["llama"])
    _assert_same(results, [_reference(reference, engine.tokenizer, r, engine.stop_ids) for r in requests], requests)
    assert all(r.output_tokens == 7 and r.finish_reason == "length" for r in results)


def test_a_stop_token_ends_the_row_and_is_counted_but_not_shown(tiny_models):
    engine = LocalEngine(tiny_models["llama"])
    request = EngineRequest(prompt_token_ids=[40, 41, 42, 43], max_new_tokens=8, ignore_eos=True)
    [free] = engine.generate([request])
    stop = free.token_ids[3]
    first = free.token_ids.index(stop)  # the stop token may occur earlier than position 3
    engine.stop_ids = (stop,)
    [stopped] = engine.generate([EngineRequest(prompt_token_ids=[40, 41, 42, 43], max_new_tokens=8)])
    assert stopped.token_ids == free.token_ids[:first + 1]
    assert stopped.finish_reason == "stop" and stopped.output_tokens == first + 1
    assert stopped.text == engine.tokenizer.decode(free.token_ids[:first], skip_special_tokens=True)


def test_stop_ids_are_the_chat_templates_turn_tokens_and_eos(tiny_models):
    """SmolLM2: <|im_end|> (2) ends a turn, <|im_start|> (1) starts the next one; both stop generation."""
    engine = LocalEngine(tiny_models["llama"])
    assert engine.stop_ids == (1, 2)
    assert engine.tokenizer.convert_ids_to_tokens([1, 2]) == ["<|im_start|>", "<|im_end|>"]


def test_closed_labels_are_exactly_one_label_and_match_generate_with_the_trie(tiny_models):
    """Constrained rows mixed with free rows in one batch; every constrained output is a label, equal to
    generate() with LabelConstraintProcessor (which adds the stop token the engine does not need)."""
    engine = LocalEngine(tiny_models["llama"], max_batch_size=8)
    requests = [EngineRequest(messages=_chat(q), max_new_tokens=12, allowed_outputs=LABELS if i % 3 else None,
                              logprobs=True) for i, q in enumerate(QUESTIONS)]
    results = engine.generate(requests)
    trie = LabelTrie.from_labels(LABELS, engine.tokenizer)
    reference = _load_reference(tiny_models["llama"])
    for i, (req, res) in enumerate(zip(requests, results)):
        if req.allowed_outputs is None:
            gen, _ = _reference(reference, engine.tokenizer, req, engine.stop_ids)
            assert list(res.token_ids) == gen
            continue
        gen, lps = _reference(reference, engine.tokenizer, req, engine.stop_ids,
                              processor_for=lambda n: LabelConstraintProcessor(trie, n, engine.stop_ids))
        assert res.text in LABELS and res.finish_reason == "stop", f"request {i}: {res}"
        expected_ids = engine.tokenizer(res.text, add_special_tokens=False)["input_ids"]
        label_ids = gen[:-1] if gen[-1] in engine.stop_ids else gen
        ended_on_stop = res.token_ids[-1] in engine.stop_ids
        assert list(res.token_ids) == (label_ids + [gen[-1]] if ended_on_stop else label_ids)
        assert label_ids == expected_ids
        assert max(abs(a - b) for a, b in zip(res.token_logprobs, lps)) < 1e-4  # raw logprobs, not constrained


def test_a_label_that_is_a_prefix_of_another_can_end_on_a_stop_token(tiny_models):
    """At 'card' the model may stop (a label ends there) or continue to 'card_arrival'/'card_linking'; force
    the choice by making 'card' the only label whose tokens lead anywhere: the row ends with a stop token."""
    engine = LocalEngine(tiny_models["llama"])
    card = engine.tokenizer("card", add_special_tokens=False)["input_ids"]
    longer = engine.tokenizer("card_arrival", add_special_tokens=False)["input_ids"]
    assert longer[:len(card)] == card and len(longer) > len(card)
    # With only these two labels, after 'card' the allowed set is {next token of card_arrival} + stop ids.
    [res] = engine.generate([EngineRequest(messages=_chat("x"), max_new_tokens=10,
                                           allowed_outputs=["card", "card_arrival"])])
    assert res.text in ("card", "card_arrival")
    if res.text == "card":
        assert res.token_ids[:-1] == tuple(card) and res.token_ids[-1] in engine.stop_ids
    else:
        assert res.token_ids == tuple(longer)


def test_max_new_tokens_shorter_than_a_label_finishes_by_length(tiny_models):
    engine = LocalEngine(tiny_models["llama"])
    [res] = engine.generate([EngineRequest(messages=_chat("q"), max_new_tokens=1,
                                           allowed_outputs=["lost_or_stolen_card", "cash_withdrawal"])])
    assert res.finish_reason == "length" and res.output_tokens == 1


def test_adapters_are_switched_per_batch_without_reloading(tiny_models, adapters, monkeypatch):
    from peft import PeftModel

    engine = LocalEngine(tiny_models["llama"], adapters=adapters)

    def no_reload(*a, **k):
        raise AssertionError("an adapter was loaded again during generate")

    monkeypatch.setattr(PeftModel, "load_adapter", no_reload)
    monkeypatch.setattr(PeftModel, "from_pretrained", no_reload)
    names = [None, "a", "b", "a", None, "b"]
    requests = [EngineRequest(messages=_chat(QUESTIONS[i]), max_new_tokens=6, adapter=name, logprobs=True)
                for i, name in enumerate(names)]
    results = engine.generate(requests)
    assert [b.adapter for b in engine.last_run.batches] == [None, "a", "b"]
    monkeypatch.undo()
    for name in (None, "a", "b"):
        model = _load_reference(tiny_models["llama"])
        if name is not None:
            model = PeftModel.from_pretrained(model, adapters[name]).eval()
        idx = [i for i, n in enumerate(names) if n == name]
        refs = [_reference(model, engine.tokenizer, requests[i], engine.stop_ids) for i in idx]
        _assert_same([results[i] for i in idx], refs, [requests[i] for i in idx])
    # the adapters really change the answer (otherwise this test could not fail)
    [base_again] = engine.generate([EngineRequest(messages=_chat(QUESTIONS[1]), max_new_tokens=6, logprobs=True)])
    assert base_again.token_logprobs != results[1].token_logprobs


def test_results_come_back_in_input_order_and_per_batch(tiny_models):
    engine = LocalEngine(tiny_models["llama"], max_batch_size=2)
    requests = [EngineRequest(messages=_chat(q), max_new_tokens=4) for q in QUESTIONS[:5]]
    seen: list[tuple[list[int], list[EngineResult]]] = []
    results = engine.generate(requests, on_batch_done=lambda idx, res: seen.append((idx, res)))
    assert len(seen) == 3 and sorted(i for idx, _ in seen for i in idx) == list(range(5))
    for idx, res in seen:
        assert [results[i] for i in idx] == res
    alone = [engine.generate([r])[0] for r in requests]
    assert [r.token_ids for r in results] == [r.token_ids for r in alone]
    assert engine.generate(requests) == results  # deterministic


def test_full_batches_give_the_saturated_throughput(tiny_models):
    engine = LocalEngine(tiny_models["llama"], max_batch_size=2)
    engine.generate([EngineRequest(messages=_chat(q), max_new_tokens=3, ignore_eos=True) for q in QUESTIONS[:5]])
    stats = engine.last_run
    assert [b.full for b in stats.batches] == [True, True, False]
    full = stats.batches[:2]
    assert stats.saturated_output_tokens_per_s == pytest.approx(
        sum(b.output_tokens for b in full) / sum(b.wall_s for b in full))
    assert stats.output_tokens == 15 and stats.output_tokens_per_s == pytest.approx(15 / stats.wall_s)
    measured = engine.saturated_throughput([EngineRequest(messages=_chat("q"), max_new_tokens=3, ignore_eos=True)])
    assert measured.rows == 2 and measured.output_tokens == 6 and measured.batches == 1 and measured.all_full


def test_a_kv_slot_budget_limits_the_batch(tiny_models):
    engine = LocalEngine(tiny_models["llama"], max_batch_size=64, max_batch_tokens=60)
    prompts = [[7, 8, 9, 10 + i] for i in range(6)]  # 4 tokens + 16 new = 20 slots per row -> 3 rows per batch
    engine.generate([EngineRequest(prompt_token_ids=p, max_new_tokens=16, ignore_eos=True) for p in prompts])
    assert [(b.rows, b.full) for b in engine.last_run.batches] == [(3, True), (3, True)]


def test_one_long_prompt_gets_its_own_batch(tiny_models):
    """Rows sorted longest first; a row whose slots would leave the batch mostly padding starts a new batch."""
    engine = LocalEngine(tiny_models["llama"], max_batch_size=64)
    lengths = [60, 8, 7, 6, 5]
    prompts = [[11 + i] * n for i, n in enumerate(lengths)]
    results = engine.generate([EngineRequest(prompt_token_ids=p, max_new_tokens=4, ignore_eos=True)
                               for p in prompts])
    # 64 slots per row: [60, 8] use 76 of 128 (within 2x); adding 7 would use 87 of 192 (over 2x): new batch
    assert [(b.rows, b.full) for b in engine.last_run.batches] == [(2, False), (3, False)]
    assert [r.input_tokens for r in results] == lengths


def test_a_long_prompt_behind_a_short_prefix_runs_the_prefix_itself(tiny_models):
    """The long row's batch (longest first), its suffix dwarfing the shared system prompt, runs the prefix in its
    rows instead of attending to it under a mask; the other batch shares it; both ways equal generate()."""
    engine = LocalEngine(tiny_models["llama"])
    long_question = " ".join(f"item {i} costs {i * 7} euros;" for i in range(60))
    requests = [EngineRequest(messages=_chat(q), max_new_tokens=5, logprobs=True)
                for q in [long_question] + QUESTIONS[:3]]
    results = engine.generate(requests)
    batches = engine.last_run.batches
    assert [b.rows for b in batches] == [2, 2]
    assert batches[0].shared_prefix_tokens == 0 and batches[1].shared_prefix_tokens >= MIN_SHARED_PREFIX
    reference = _load_reference(tiny_models["llama"])
    _assert_same(results, [_reference(reference, engine.tokenizer, r, engine.stop_ids) for r in requests], requests)


def test_the_shared_prefix_is_cached_between_calls(tiny_models):
    engine = LocalEngine(tiny_models["llama"])
    requests = [EngineRequest(messages=_chat(q), max_new_tokens=4, logprobs=True) for q in QUESTIONS[:4]]
    first = engine.generate(requests)
    assert engine.last_run.prefix_tokens_computed > 0
    second = engine.generate(requests[1:3])
    assert engine.last_run.prefix_tokens_computed == 0 and engine.last_run.prefix_tokens_reused > 0
    for a, b in zip(first[1:3], second):
        assert a.token_ids == b.token_ids
        assert max(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs)) < 1e-5


def test_probe_latency_runs_one_request_at_a_time(tiny_models):
    engine = LocalEngine(tiny_models["llama"])
    requests = [EngineRequest(messages=_chat(q), max_new_tokens=5) for q in QUESTIONS[:4]]
    seen = []
    with pytest.raises(EngineInputError, match="request 1: max_new_tokens"):
        engine.probe_latency([requests[0], EngineRequest(messages=_chat("q"), max_new_tokens=0)], 2)
    probe = engine.probe_latency(requests, 3, on_batch_done=lambda idx, res: seen.append(idx))
    assert probe.n == 3 and seen == [[0], [1], [2]]
    assert [r.token_ids for r in probe.results] == [r.token_ids for r in engine.generate(requests[:3])]
    for latency, ttft in zip(probe.latency_s, probe.ttft_s):
        assert 0 < ttft <= latency


def test_chat_template_kwargs_reach_the_template(tiny_models, tmp_path):
    folder = tmp_path / "kw"
    shutil.copytree(tiny_models["llama"], folder)
    (folder / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% if not enable_thinking %}no thinking\n{% endif %}"
        "{% endif %}")
    engine = LocalEngine(folder)
    [on, off] = engine.generate([
        EngineRequest(messages=_chat("q"), max_new_tokens=2, chat_template_kwargs={"enable_thinking": True}),
        EngineRequest(messages=_chat("q"), max_new_tokens=2, chat_template_kwargs={"enable_thinking": False})])
    assert off.input_tokens == on.input_tokens + len(engine.tokenizer("no thinking\n")["input_ids"])


@pytest.mark.parametrize("request_kw, message", [
    (dict(messages=None), "exactly one of messages and prompt_token_ids"),
    (dict(adapter="nope"), "unknown adapter 'nope'"),
    (dict(max_new_tokens=0), "max_new_tokens must be an int >= 1"),
    (dict(allowed_outputs=["a", "a"]), "label 'a' is listed twice"),
    (dict(allowed_outputs=[]), "the label list is empty"),
    (dict(allowed_outputs=["a"], ignore_eos=True), "cannot be combined"),
    (dict(messages=[{"role": "user"}]), "non-empty list of {'role', 'content'} dicts"),
    (dict(messages=None, prompt_token_ids=[1, 99999999]), "outside the vocabulary"),
    (dict(max_new_tokens=5000), "exceed the model's 2048 positions"),
])
def test_bad_requests_are_named_before_any_work(tiny_models, request_kw, message):
    engine = LocalEngine(tiny_models["llama"])
    good = EngineRequest(messages=_chat("q"), max_new_tokens=2)
    bad = EngineRequest(**{**dict(messages=_chat("q"), max_new_tokens=2), **request_kw})
    done = []
    with pytest.raises(EngineInputError, match="request 1: .*" + _escape(message)):
        engine.generate([good, bad], on_batch_done=lambda idx, res: done.append(idx))
    assert done == []


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_an_adapter_folder_without_config_is_refused(tiny_models, tmp_path):
    with pytest.raises(FileNotFoundError, match="adapter 'x'.*adapter_config.json"):
        LocalEngine(tiny_models["llama"], adapters={"x": tmp_path})


@pytest.mark.slow
@pytest.mark.skipif(not (SMOLLM2 / "model.safetensors").is_file(), reason=f"SmolLM2 not converted at {SMOLLM2}")
def test_real_smollm2_batched_equals_generate_and_labels_hold():
    engine = LocalEngine(SMOLLM2, max_batch_size=4)
    assert engine.stop_ids == (1, 2)
    requests = [EngineRequest(messages=_chat(q), max_new_tokens=12, logprobs=True) for q in QUESTIONS[:5]]
    results = engine.generate(requests)
    reference = _load_reference(SMOLLM2)
    _assert_same(results, [_reference(reference, engine.tokenizer, r, engine.stop_ids) for r in requests], requests)
    labelled = engine.generate([EngineRequest(messages=_chat(q), max_new_tokens=12, allowed_outputs=LABELS[1:])
                                for q in QUESTIONS[:4]])
    assert all(r.text in LABELS[1:] and r.finish_reason == "stop" for r in labelled)
