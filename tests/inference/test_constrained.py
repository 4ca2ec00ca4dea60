"""LabelTrie and LabelConstraintProcessor: the closed-label constraint, on the real SmolLM2 tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from baseweight_assets.inference.constrained import LabelConstraintProcessor, LabelSetError, LabelTrie

SMOLLM2 = Path(__file__).resolve().parents[2] / ".cache" / "models" / "smollm2-135m"
pytestmark = pytest.mark.skipif(not (SMOLLM2 / "tokenizer.json").is_file(),
                                reason=f"real SmolLM2 tokenizer not built at {SMOLLM2}")
STOP = (1, 2)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(SMOLLM2)


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_the_trie_holds_each_labels_canonical_tokens(tokenizer):
    labels = ["positive", "negative", "neutral"]
    trie = LabelTrie.from_labels(labels, tokenizer)
    for label in labels:
        node = trie.walk(_ids(tokenizer, label))
        assert node is not None and node.label == label and node.is_leaf
    assert sorted(LabelTrie.allowed(trie.root, STOP)) == sorted({_ids(tokenizer, x)[0] for x in labels})
    assert trie.walk(_ids(tokenizer, "positively")) is None


def test_a_label_that_prefixes_another_allows_stopping_or_continuing(tokenizer):
    trie = LabelTrie.from_labels(["card", "card_arrival", "card_linking"], tokenizer)
    card = _ids(tokenizer, "card")
    node = trie.walk(card)
    assert node.label == "card" and not node.is_leaf
    nexts = {_ids(tokenizer, "card_arrival")[len(card)], _ids(tokenizer, "card_linking")[len(card)]}
    assert set(LabelTrie.allowed(node, STOP)) == nexts | set(STOP)
    # an inner node where no label ends does not allow stopping
    inner = trie.walk(_ids(tokenizer, "card_arrival")[:len(card) + 1])
    assert inner.label is None and not set(LabelTrie.allowed(inner, STOP)) & set(STOP)


@pytest.mark.parametrize("labels, message", [
    ([], "the label list is empty"),
    (["a", "b", "a"], "label 'a' is listed twice"),
    (["a", ""], "label '' is not a non-empty string"),
    (["a", None], "label None is not a non-empty string"),
])
def test_bad_label_lists_are_refused_by_name(tokenizer, labels, message):
    with pytest.raises(LabelSetError, match=message):
        LabelTrie.from_labels(labels, tokenizer)


def test_two_labels_with_the_same_tokens_are_refused():
    with pytest.raises(LabelSetError, match="labels 'x' and 'y' have the same tokens"):
        LabelTrie({"x": [5, 6], "y": [5, 6]})
    with pytest.raises(LabelSetError, match="label 'z' tokenizes to no tokens"):
        LabelTrie({"z": []})


def test_the_processor_keeps_generate_inside_the_label_set(tokenizer):
    """A tiny random model would say anything; constrained, each row's output is one label then a stop token."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                         initializer_range=0.5)).eval()
    labels = ["card_arrival", "card_linking", "cash_withdrawal", "exchange_rate", "card"]
    trie = LabelTrie.from_labels(labels, tokenizer)
    outputs = set()
    for seed in range(6):
        prompt = torch.tensor([[10 + seed, 200 + 7 * seed, 3000 + seed]])
        with torch.inference_mode():
            out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10, do_sample=False,
                                 eos_token_id=list(STOP), pad_token_id=2,
                                 logits_processor=[LabelConstraintProcessor(trie, prompt.shape[1], STOP)])
        gen = out[0, prompt.shape[1]:].tolist()
        assert gen[-1] in STOP, gen
        text = tokenizer.decode(gen[:-1])
        assert text in labels and gen[:-1] == _ids(tokenizer, text)
        outputs.add(text)
    assert outputs  # at least one label was produced; with 6 prompts usually several


def test_the_processor_needs_a_stop_id(tokenizer):
    with pytest.raises(ValueError, match="at least one stop id"):
        LabelConstraintProcessor(LabelTrie.from_labels(["a"], tokenizer), 3, [])
