"""Turn raw model text into the answer each task scores. One documented rule per task type.

Closed labels (BANKING77, LEDGAR, FPB) -- ``parse_label``:
  1. A JSON object ``{"label": X}`` (what JSON-schema constrained APIs return) is unwrapped to X.
  2. Whole-text rule: strip whitespace, then surrounding quotes/backticks/asterisks, then one trailing period,
     then compare case-insensitively; spaces and hyphens compare equal to underscores. The canonical label
     (its spelling in the label set) is returned. A label whose own name holds "not" or "no" matches here.
  3. Lone-label rule: otherwise the text is accepted only when it is short (at most ``SHORT_SENTENCE_WORDS``
     words), exactly ONE label of the set occurs in it as a whole token (bounded by non-word characters),
     e.g. "The intent is card_arrival.", AND the text left after removing every label occurrence holds no
     negation or hedge cue (``NEGATION_OR_HEDGE``): a whole word "not", "no", "never", "neither", "nor",
     "none", "cannot", "without" or any word ending in "n't"; a hedge word "maybe", "perhaps", "possibly",
     "probably", "likely", "unlikely", "might", "may", "could", "unsure", "uncertain", "unclear", "guess",
     "seem(s)", "appear(s)"; or a question mark. So "Not positive.", "It is not A", "neither A nor B",
     "probably card_arrival", "not sure, positive?" and "positive?" are invalid (None), never the label they
     mention. Two labels, or a longer text, are invalid too.
Multiple choice (MedMCQA) -- ``parse_choice``: the letter inside the LAST ``<answer>...</answer>`` tag
  (case-insensitive; the tag content may be "B", "(B)", "B." or "B) text"); without a tag: the whole
  text is a lone letter ("B", "(B)", "B."), or the LAST "Answer: X" / "answer is X" phrase. Else invalid.
  The answer is delimited, so reasoning around it may negate freely; a negated or hedged delimiter
  ("answer is not B", "answer: maybe B") matches no letter and is invalid.
Extraction (CUAD) -- ``split_spans``: the output is read line by line. Each line is stripped of surrounding
  whitespace, then of ONE leading list marker ("- ", "* ", "• ", "1. ", "1) ", any number up to 3 digits),
  then of wrapping quote characters (``_QUOTES``, repeatedly while both ends hold one). A line left blank
  gives nothing; a line that is an abstention (``is_abstention_line``) gives nothing; every other line is
  one span, in output order. An output that is only abstentions, or blank, gives [] (the caller tells the
  two apart with ``is_abstention``: a blank output is never an abstention).
  Abstention lines are matched sentence by sentence (split after ".", "!" or ";"), each sentence WHOLE after
  normalising (lower case, whitespace collapsed, wrapping quotes and trailing ".!;" removed): a line is an
  abstention when every sentence in it is one of the phrasings in ``_ABSTAIN`` -- "Not found." (the one the prompt asks for) and what models
  really write instead: "None", "N/A", "No such clause was found", "There is no non-compete clause in this
  excerpt", "The excerpt does not contain a ... clause", "I could not find any ... in the excerpt", "The
  notice period to terminate renewal is not specified" (SmolLM2, tests/scoring/fixtures), ...
  Words such as "nonexclusive", or a clause that starts "None of the parties", stay answers.
"""

from __future__ import annotations

import json
import re

SHORT_SENTENCE_WORDS = 12
_QUOTES = "\"'`*“”‘’"

# A free-text middle ("no non-compete clause") is allowed only before "clause"/"passage", the prompt's own
# words; real contract text ending in "provision" ("No waiver of any provision") must stay an answer.
_ADJ = r"(?:such |relevant |matching |specific |applicable |related |other |similar )?"
_NOUN = (r"(?:(?:[\w\-/,'&() ]{1,60} )?(?:clauses?|passages?)"
         r"(?: (?:related to|relating to|about|regarding|concerning|pertaining to|on) [\w\-/,'&() ]{1,60})?"
         r"|(?:provisions?|texts?|language|information|mentions?|answers?|matche?s?|results?|content))")
_FOUND = (r"(?: (?:was|were|is|are|could be|can be|has been|have been))?"
          r" (?:found|present|identified|mentioned|included|provided|stated|available|located|given)")
_WHERE = (r"(?: (?:in|within|from|of) (?:this|the|that|given|provided|above) ?(?:contract |provided |given )?"
          r"(?:excerpt|text|contract|passage|section|window|document|agreement|context)(?: above| provided)?)?")
_ABSTAIN_SENTENCE = (
    r"(?:(?:answer|clause|result|output|response)\s*:\s*)?(?:"
    r"not found|none|none found|nothing found|n/?a|no answer|no matche?s?|not applicable|not mentioned|not present"
    r"|not specified|not available|not identified|not included"
    rf"|(?:there (?:is|are|was|were) )?no {_ADJ}{_NOUN}(?:{_FOUND})?{_WHERE}"
    r"|(?:the |this |that )?(?:given |provided )?(?:contract )?(?:excerpt|text|passage|window)"
    r" (?:does not|doesn't|did not) (?:appear to )?"
    r"(?:contain|mention|include|specify|address|have|provide|state|discuss|cover) .{0,120}"
    r"|(?:the |an? |any )[\w\-/,'&() ]{1,60} (?:is|are|was|were) not (?:specified|mentioned|stated|found|provided"
    rf"|included|present|given|defined|addressed|identified){_WHERE}"
    r"|(?:i )?(?:could not|couldn't|cannot|can't|can not|did not|didn't|was unable to|am unable to|unable to)"
    r" (?:find|locate|identify) .{0,120}"
    r")"
)
_ABSTAIN = re.compile(rf"^{_ABSTAIN_SENTENCE}$")
_SENTENCE_END = re.compile(r"(?<=[.!;])\s+")
_LIST_MARKER = re.compile(r"^(?:[-*•]|\d{1,3}[.)])(?:\s+|$)")

NEGATION_OR_HEDGE = re.compile(
    r"\b(?:not|no|never|neither|nor|none|cannot|without|maybe|perhaps|possibly|probably|likely|unlikely|might|may"
    r"|could|unsure|uncertain|unclear|guess|seems?|appears?)\b|\w+n't\b|\?"
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
        lowered = text.lower().replace("\u2019", "'")
        matches = list(self._lone.finditer(lowered))
        hits = {self._by_key.get(_label_key(m.group(1))) for m in matches}
        hits.discard(None)
        if len(hits) != 1:
            return None
        rest = self._lone.sub(" ", lowered)
        return None if NEGATION_OR_HEDGE.search(rest) else hits.pop()


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


def _normalise_line(line: str) -> str:
    return re.sub(r"\s+", " ", _strip_wrapping(line).lower().replace("\u2019", "'")).strip()


def is_abstention_line(line: str) -> bool:
    """True if every sentence of the line is an abstention phrasing (module docstring); False if blank."""
    norm = _normalise_line(line)
    if not norm:
        return False
    sentences = [_strip_wrapping(s).rstrip(".!;").strip() for s in _SENTENCE_END.split(norm)]
    return all(_ABSTAIN.match(s) for s in sentences if s) and any(sentences)


def _span_text(line: str) -> str:
    return _strip_wrapping(_LIST_MARKER.sub("", line.strip(), count=1))


def is_abstention(output: str) -> bool:
    """True if the output holds at least one abstention line and nothing else (blank lines aside)."""
    lines = [_span_text(line) for line in output.splitlines()]
    lines = [line for line in lines if line]
    return bool(lines) and all(is_abstention_line(line) for line in lines)


def split_spans(output: str) -> list[str]:
    """The spans of an extraction output, one per non-blank, non-abstention line (module docstring)."""
    spans = []
    for line in output.splitlines():
        text = _span_text(line)
        if text and not is_abstention_line(text):
            spans.append(text)
    return spans


_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(output: str) -> str:
    """The first fenced code block's body (any language tag), else the whole output."""
    m = _FENCE.search(output)
    return m.group(2) if m else output
