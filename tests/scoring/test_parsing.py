import pytest

from baseweight_assets.scoring.parsing import extract_code, is_abstention, parse_choice, parse_extraction, parse_label

LABELS = ["card_arrival", "card_linking", "Governing Laws", "positive"]


@pytest.mark.parametrize("output,expected", [
    ("card_arrival", "card_arrival"),
    ('  "Card_Arrival." ', "card_arrival"),
    ("`card_linking`", "card_linking"),
    ("governing laws", "Governing Laws"),
    ('{"label": "positive"}', "positive"),
    ("The intent is card_arrival.", "card_arrival"),
    ("Category: Governing Laws", "Governing Laws"),
    ("card_arrival or card_linking", None),  # two labels: ambiguous
    ("card_arrivals", None),  # not a whole token
    ("The customer is asking about when the card will arrive, probably card_arrival I guess", None),  # long
    ("positively", None),
    ("", None),
])
def test_parse_label(output, expected):
    assert parse_label(output, LABELS) == expected


@pytest.mark.parametrize("output,expected", [
    ("<answer>B</answer>", "B"),
    ("Reasoning <answer>A</answer> wait, <ANSWER> (c) </answer>", "C"),
    ("<answer>D. Aspirin</answer>", "D"),
    ("<answer>E</answer>", None),
    ("<answer>maybe</answer>", None),
    ("B", "B"), ("(d)", "D"), ("C.", "C"),
    ("Answer: A", "A"), ("so the answer is (B), because", "B"),
    ("A and B are both plausible", None),
    ("Aspirin", None),
])
def test_parse_choice(output, expected):
    assert parse_choice(output) == expected


@pytest.mark.parametrize("text", ["Not found.", "NOT FOUND", "none", "None.", "N/A", "n/a", "No answer",
                                  "Not applicable.", '"Not found."', "No relevant clause found.", "   "])
def test_abstentions(text):
    assert is_abstention(text) and parse_extraction(text) == ""


@pytest.mark.parametrize("text", ["nonexclusive license to use the Software", "Non-exclusive license",
                                  "None of the parties shall assign this Agreement", "Nonetheless, the term is 5 years",
                                  "This clause was not found to be unenforceable"])
def test_answers_containing_abstention_words_are_answers(text):
    assert not is_abstention(text) and parse_extraction(text) == text


def test_extract_code_first_fence_else_whole():
    out = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```\nx = 2\n```"
    assert extract_code(out) == "def f():\n    return 1\n"
    assert extract_code("```\nprint(1)\n```") == "print(1)\n"
    assert extract_code("def g(): pass") == "def g(): pass"
    assert extract_code("```py\nunclosed = 1\n") == "unclosed = 1\n"
