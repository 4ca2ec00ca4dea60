"""Turn raw model text into the answer each task scores. One documented rule per task type.

Closed labels (BANKING77, LEDGAR, FPB) -- ``parse_label``:
  1. A JSON object ``{"label": X}`` (what JSON-schema constrained APIs return) is unwrapped to X.
  2. Normalise: strip whitespace, then surrounding quotes/backticks/asterisks, then one trailing period,
     then compare case-insensitively; spaces and hyphens compare equal to underscores. The canonical
     label (its spelling in the label set) is returned.
  3. Lone-label rule: if the whole text is not a label, it is accepted only when it is short (at most
     ``SHORT_SENTENCE_WORDS`` words) and exactly ONE label of the set occurs in it as a whole token
     (bounded by non-word characters), e.g. "The intent is card_arrival." Two labels, or a longer text,
     is a format violation.
Multiple choice (MedMCQA) -- ``parse_choice``: the letter inside the LAST ``<answer>...</answer>`` tag
  (case-insensitive; the tag content may be "B", "(B)", "B." or "B) text"); without a tag: the whole
  text is a lone letter ("B", "(B)", "B."), or the LAST "Answer: X" / "answer is X" phrase. Else invalid.
Extraction (CUAD) -- ``parse_extraction``: stripped text, with a wrapping quote pair removed; an
  abstention (``is_abstention``) becomes "" (the empty answer).
Code (MBPP) -- ``extract_code``: the body of the first fenced block (```python, ```py or bare ```),
  else the whole output.
"""

from __future__ import annotations

import json
import re

SHORT_SENTENCE_WORDS = 12
_QUOTES = "\"'`*“”‘’"

# Abstentions are matched against the WHOLE normalised output (never as a substring), so words such as
# "nonexclusive" or a clause that starts with "None of the parties" are answers, not abstentions.
_ABSTAIN = re.compile(
    r"^(?:(?:answer|clause|result)\s*:\s*)?(?:"
    r"not found|none|none found|n/?a|no answer|not applicable|not mentioned|not present|not specified"
    r"|no (?:such |relevant |matching )?(?:clause|provision|text|answer)s?(?: (?:was |is )?found)?"
    r"|(?:there is )?no (?:such |relevant )?(?:clause|provision)(?: in (?:this|the) (?:contract|text|section|excerpt))?"
    r"|(?:the )?(?:contract|text|excerpt|section) does not (?:contain|mention|include) (?:a |an |any |such |this )?.{0,60}"
    r")$"
)


def _strip_wrapping(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def _label_key(text: str) -> str:
    text = _strip_wrapping(text)
    if text.endswith("."):
        text = text[:-1]
    return re.sub(r"[\s\-]+", "_", _strip_wrapping(text).lower())


def _unwrap_json(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            obj = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(obj, dict) and len(obj) == 1 and isinstance(obj.get("label"), str):
            return obj["label"]
    return text


class LabelParser:
    """Pre-computes the label lookups once per label set (parsing 10k rows must be fast)."""

    def __init__(self, labels: list[str]):
        self.labels = list(labels)
        self._by_key = {_label_key(lab): lab for lab in self.labels}
        # Longest first, so "card_arrival" is not read as a shorter label it contains; "_" in a key
        # matches any run of spaces, underscores or hyphens in the sentence.
        alternatives = sorted(self._by_key, key=len, reverse=True)
        pattern = "|".join(re.escape(k).replace("_", r"[\s_\-]+") for k in alternatives)
        self._lone = re.compile(r"(?<![\w])(" + pattern + r")(?![\w])") if alternatives else None

    def __call__(self, output: str) -> str | None:
        text = _unwrap_json(output)
        exact = self._by_key.get(_label_key(text))
        if exact is not None:
            return exact
        words = text.split()
        if not words or len(words) > SHORT_SENTENCE_WORDS or self._lone is None:
            return None
        hits = {self._by_key.get(_label_key(m.group(1))) for m in self._lone.finditer(text.lower())}
        hits.discard(None)
        return hits.pop() if len(hits) == 1 else None


def parse_label(output: str, labels: list[str]) -> str | None:
    """The canonical label the output names, or None (format violation). See the module docstring."""
    return LabelParser(labels)(output)


_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_PHRASE = re.compile(r"\banswer(?:\s*:|\s+is\s*:?)\s*\(?([A-Za-z])\)?(?![\w])", re.IGNORECASE)


def _lone_letter(text: str, letters: str) -> str | None:
    m = re.fullmatch(r"\s*\(?\s*([A-Za-z])\s*\)?\s*\.?\s*", text)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    return None


def parse_choice(output: str, letters: str = "ABCD") -> str | None:
    """The chosen option letter, or None. See the module docstring for the rule."""
    tags = _TAG.findall(output)
    if tags:
        inner = tags[-1].strip()
        letter = _lone_letter(inner, letters)
        if letter is None:
            m = re.match(r"\(?([A-Za-z])\s*[\).:]\s*\S", inner)
            letter = m.group(1).upper() if m and m.group(1).upper() in letters else None
        return letter
    letter = _lone_letter(output, letters)
    if letter is not None:
        return letter
    phrases = [m.group(1).upper() for m in _PHRASE.finditer(output)]
    return phrases[-1] if phrases and phrases[-1] in letters else None


def is_abstention(text: str) -> bool:
    """True if the whole output says "no such clause" (e.g. "Not found.", "None", "N/A"), or is empty."""
    norm = re.sub(r"\s+", " ", _strip_wrapping(text).lower()).strip().rstrip(".!").strip()
    return norm == "" or bool(_ABSTAIN.match(norm))


def parse_extraction(output: str) -> str:
    """The extracted clause text; "" for an abstention."""
    text = _strip_wrapping(output)
    return "" if is_abstention(text) else text


_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(output: str) -> str:
    """The first fenced code block's body (any language tag), else the whole output."""
    m = _FENCE.search(output)
    return m.group(2) if m else output
