"""Sliding windows over long documents (CUAD's contracts) in whitespace words (tokenizer-free, so every model
sees the same text).

``size``/``stride``/``max_windows`` come from the task's ``windows`` config. A document needing
more than ``max_windows`` windows is capped and *reported* by the caller, never silently cut.
"""

from __future__ import annotations

import bisect

import numpy as np

# Code points str.split() treats as whitespace, so word offsets agree with text.split().
_SPACES = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def window_starts(n_words: int, size: int, stride: int) -> list[int]:
    """Word offsets of every window needed to cover ``n_words`` (no cap)."""
    if n_words <= size:
        return [0]
    starts = list(range(0, n_words - size, stride))
    starts.append(starts[-1] + stride if starts[-1] + size < n_words else starts[-1])
    return sorted(set(starts))


def word_starts(text: str) -> list[int]:
    """Char offset of each whitespace-separated word (vectorised: a regex over 27 MB is slow)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    space = np.isin(codes, _SPACES)
    prev_space = np.concatenate(([True], space[:-1]))
    return np.flatnonzero(~space & prev_space).tolist()


class Document:
    """A long document's words plus lookups from char offset / normalised span to word position."""

    def __init__(self, title: str, text: str) -> None:
        self.title = title
        self.words = text.split()
        self._starts: list[int] | None = None
        self._collapsed: str | None = None
        self._text = text

    def locate(self, span: str, answer_start: int) -> tuple[int, int] | None:
        """(first word, end word) of the span, or None when it is not in the text."""
        n = len(span.split())
        if answer_start >= 0:
            if self._starts is None:
                self._starts = word_starts(self._text)
            first = bisect.bisect_right(self._starts, answer_start) - 1
            return max(first, 0), max(first, 0) + n
        if self._collapsed is None:
            self._collapsed = " ".join(self.words)
        pos = self._collapsed.find(" ".join(span.split()))
        if pos < 0:
            return None
        first = self._collapsed.count(" ", 0, pos)
        return first, first + n

    def text(self, start: int, end: int) -> str:
        return " ".join(self.words[start:end])


def covering_window(starts: list[int], size: int, first: int, end: int, n_words: int, pick: int) -> int:
    """Start of a grid window containing words [first, end); else one snapped to start size/8 words
    before the clause (clauses longer than a window are cut at the window's end)."""
    fits = [s for s in starts if s <= first and end <= s + size]
    if fits:
        return fits[pick % len(fits)]
    return max(0, min(first - size // 8, max(n_words - size, 0)))
