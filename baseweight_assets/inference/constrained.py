"""Closed-label decoding: a prefix trie over the tokenized labels, so the output is exactly one of them.

The trie holds each label's canonical tokenization (the label tokenized on its own, no special tokens). At a node
the allowed next tokens are its children, plus the stop tokens when a label ends there and a longer label continues
(``"card"`` vs ``"card_arrival"``); at a leaf the label is complete and decoding stops without an end-of-turn token.
Other spellings of a label in other token splits are not allowed (vLLM's guided choice would allow them); greedy
decoding of a model that learned the label usually takes the canonical split anyway.

Written here rather than taken from xgrammar / outlines-core / llguidance: a closed list of short labels needs ~60
lines, and those libraries are compiled wheels the GPU image lacks and cannot download.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessor


class LabelSetError(ValueError):
    """The label list cannot be decoded exactly: empty, duplicated, or two labels with the same tokens."""


@dataclass
class TrieNode:
    children: dict[int, TrieNode] = field(default_factory=dict)
    label: str | None = None  # the label that ends at this node, if any

    @property
    def is_leaf(self) -> bool:
        return not self.children


class LabelTrie:
    """Token-id prefix trie of a closed label set (see the module docstring for the rule)."""

    def __init__(self, label_tokens: dict[str, Sequence[int]]):
        self.root = TrieNode()
        self.labels = tuple(label_tokens)
        for label, tokens in label_tokens.items():
            if not tokens:
                raise LabelSetError(f"label {label!r} tokenizes to no tokens")
            node = self.root
            for token in tokens:
                node = node.children.setdefault(int(token), TrieNode())
            if node.label is not None:
                raise LabelSetError(f"labels {node.label!r} and {label!r} have the same tokens {list(tokens)}")
            node.label = label

    @classmethod
    def from_labels(cls, labels: Iterable[str], tokenizer) -> LabelTrie:
        """Tokenize each label on its own (``add_special_tokens=False``) and build the trie."""
        labels = list(labels)
        if not labels:
            raise LabelSetError("the label list is empty")
        seen: set[str] = set()
        for label in labels:
            if not isinstance(label, str) or not label:
                raise LabelSetError(f"label {label!r} is not a non-empty string")
            if label in seen:
                raise LabelSetError(f"label {label!r} is listed twice")
            seen.add(label)
        encoded = tokenizer(labels, add_special_tokens=False)["input_ids"]
        return cls(dict(zip(labels, encoded)))

    def walk(self, tokens: Sequence[int]) -> TrieNode | None:
        """The node reached by ``tokens`` from the root, or None when they leave the trie."""
        node = self.root
        for token in tokens:
            node = node.children.get(int(token))
            if node is None:
                return None
        return node

    @staticmethod
    def allowed(node: TrieNode, stop_ids: Iterable[int]) -> list[int]:
        """Token ids allowed next at ``node``: its children, and the stop ids when a label ends here."""
        ids = list(node.children)
        if node.label is not None and node.children:
            ids.extend(int(s) for s in stop_ids)
        return ids


class LabelConstraintProcessor(LogitsProcessor):
    """The same constraint for ``model.generate`` (a reference for the engine, and usable on its own).

    ``prompt_length`` is the (padded) prompt width of the batch: tokens after it are the generated ones. A row whose
    label is complete (leaf reached, or a stop id chosen at a label's end) gets only ``stop_ids[0]`` allowed, which
    ``generate`` treats as end of sequence when it is in the generation config's ``eos_token_id``.
    """

    def __init__(self, trie: LabelTrie, prompt_length: int, stop_ids: Sequence[int]):
        if not stop_ids:
            raise ValueError("LabelConstraintProcessor needs at least one stop id")
        self.trie, self.prompt_length, self.stop_ids = trie, prompt_length, [int(s) for s in stop_ids]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        mask = torch.full_like(scores, float("-inf"))
        for row, ids in enumerate(input_ids[:, self.prompt_length:].tolist()):
            node = self.trie.walk(ids)
            allowed = [self.stop_ids[0]] if node is None or node.is_leaf else self.trie.allowed(node, self.stop_ids)
            mask[row, allowed] = 0.0
        return scores + mask
