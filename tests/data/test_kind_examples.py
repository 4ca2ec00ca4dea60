"""Each task kind builds its examples from canonical rows, says which outputs decoding may produce, and parses
its own gold target back to the gold answer."""

import pytest

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.data.ids import content_id
from baseweight_assets.tasks import KINDS, get_kind, kind_of
from baseweight_assets.tasks.code import entry_point
from baseweight_assets.tasks.multiple_choice import MAX_EXPLANATION_CHARS, truncate_words


def _task(task_type, metric, **extra):
    return TaskConfig(id="t", name="t", task_type=task_type, metric=metric, max_output_tokens=8,
                      source={"offline": {"loader": "csv", "dir": "x"}}, **extra)


def test_classification_example_and_constraint():
    kind = get_kind("classification")
    ex = kind.example("t", {"text": "Where is my card?", "label": 1}, ["card_arrival", "lost_card"])
    assert (ex["group"], ex["target"], ex["gold"], ex["fields"], ex["meta"]) == \
        ("lost_card", "lost_card", "lost_card", {"text": "Where is my card?"}, {})
    assert ex["id"] == ex["question_id"] == content_id("t", {"fields": {"text": "Where is my card?"}, "gold": "lost_card"})
    assert kind.allowed_outputs(_task("classification", "accuracy"), ["a", "b"]) == ["a", "b"]
    assert kind.allowed_outputs(_task("classification", "accuracy"), None) is None
    assert kind.parser(["card_arrival", "lost_card"])(ex["target"]) == ex["gold"]


def test_multiple_choice_example_target_and_no_constraint():
    kind = get_kind("multiple_choice")
    row = {"question": "Which?", "options": ["w", "x", "y", "z"], "answer": 2, "explanation": "  Because\n y. ",
           "group": "Anatomy", "meta": {"subject": "Anatomy"}}
    ex = kind.example("t", row, ["A", "B", "C", "D"])
    assert ex["fields"] == {"question": "Which?", "options": {"A": "w", "B": "x", "C": "y", "D": "z"}}
    assert ex["target"] == "Because y.\n<answer>C</answer>" and ex["gold"] == "C" and ex["group"] == "Anatomy"
    assert ex["meta"] == {"subject": "Anatomy", "explanation_chars": len("Because y.")}
    assert kind.example("t", {**row, "explanation": ""}, ["A", "B", "C", "D"])["target"] == "<answer>C</answer>"
    assert kind.allowed_outputs(_task("multiple_choice", "accuracy"), ["A", "B"]) is None  # reasoning is free text
    assert kind.parser(["A", "B", "C", "D"])(ex["target"]) == "C"
    long = "word " * 400
    cut = truncate_words(long, MAX_EXPLANATION_CHARS)
    assert len(cut) <= MAX_EXPLANATION_CHARS + 4 and cut.endswith("word ...")


def test_extraction_question_example():
    kind = get_kind("extraction")
    row = {"id": "doc1__Term", "title": "doc1", "question": "Find the term.", "group": "Term",
           "fields": {"clause_type": "Term"},
           "answers": {"text": ["five years"], "answer_start": [10], "located": ["verbatim"]}}
    ex = kind.example("t", row, None)
    assert ex["id"] == ex["question_id"] == content_id("t", {"question": "doc1__Term", "gold": ["five years"]})
    assert ex["fields"] == {"clause_type": "Term", "question": "Find the term."} and ex["gold"] == ["five years"]
    assert ex["meta"] == {"has_answer": True, "title": "doc1", "source_id": "doc1__Term", "answer_start": [10],
                          "located": ["verbatim"]}
    assert kind.allowed_outputs(_task("extraction", "multi_span_f1"), None) is None
    assert kind.parser(None)("five years\nNot found.") == ["five years"]
    assert kind.windowed and not get_kind("classification").windowed


def test_code_example_and_entry_point():
    kind = get_kind("code")
    row = {"text": "Square a number.", "code": "def sq(x):\r\n    return x * x\r\n",
           "test_list": ["assert sq(3) == 9"], "test_setup_code": "", "meta": {"task_id": 7}}
    ex = kind.example("t", row, None)
    assert ex["target"] == "```python\ndef sq(x):\n    return x * x\n```" and ex["group"] == "all"
    assert ex["gold"] == {"test_list": ["assert sq(3) == 9"], "test_setup_code": "", "entry_point": "sq"}
    assert ex["fields"] == {"text": "Square a number.", "test_list": ["assert sq(3) == 9"]}
    assert ex["meta"] == {"task_id": 7} and ex["_content"] == "Square a number."
    assert kind.parser(None)(ex["target"]) == "def sq(x):\n    return x * x\n"
    assert entry_point("def helper(a):\n  pass\ndef main(b):\n  pass", ["assert main(1) == 2"]) == "main"
    assert entry_point("x = 1", ["assert not is_odd(2)"]) == "is_odd"


def test_kind_of_names_the_task_and_the_known_kinds():
    assert kind_of(_task("code", "pass_at_1")) is KINDS["code"]
    with pytest.raises(ValueError, match=r"task 't': unknown task_type 'ranking' \(known: \['classification', 'code', "
                                         r"'extraction', 'multiple_choice'\]\)"):
        kind_of(_task("ranking", "accuracy"))


def test_each_kind_checks_its_metric_and_settings():
    assert get_kind("classification").config_errors(_task("classification", "weighted_f1")) == []
    assert get_kind("code").config_errors(_task("code", "accuracy")) == [
        ("metric", "'accuracy' is not a metric of task_type 'code' (one of ['pass_at_1'])")]
    errors = get_kind("extraction").config_errors(_task("extraction", "multi_span_f1"))
    assert [field for field, _ in errors] == ["windows"]
