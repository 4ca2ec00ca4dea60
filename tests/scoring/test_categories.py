import pytest

from baseweight_assets.scoring.categories import (
    BY_TASK_TYPE, SUCCESS, code_category, count_categories, label_category,
)


def test_label_category_order():
    assert label_category("a", "HTTP 401", "a", "a") == "missing"  # a failed request is never scored
    assert label_category("a", "", "a", "a") == "missing"  # an empty error string is still a failure
    assert label_category("a", None, "a", "a", finish_reason="length") == "correct"  # truncation never relabels
    assert label_category("The label is", None, None, "a", finish_reason="length") == "truncated"
    assert label_category("   ", None, None, "a") == "empty"
    assert label_category("I cannot help with that.", None, None, "a") == "refusal"
    assert label_category("something", None, None, "a") == "format_violation"
    assert label_category("b", None, "b", "a") == "wrong_class"


def test_code_category():
    assert code_category("pass", "length") == "pass"
    assert code_category("syntax_error", "length") == "truncated"
    assert code_category("wrong_answer", "stop") == "wrong_answer"


def test_every_task_type_counts_missing_and_truncated_failures_first_successes_last():
    for task_type, cats in BY_TASK_TYPE.items():
        assert cats[:2] == ("missing", "truncated"), task_type
        successes = [c for c in cats if c in SUCCESS]
        assert successes and list(cats[-len(successes):]) == successes, task_type
    counts = count_categories("extraction", ["empty", "missing", "correct", "empty"])
    assert counts["empty"] == 2 and counts["missing"] == 1 and sum(counts.values()) == 4
    assert list(counts)[-1] == "correct"
    with pytest.raises(ValueError, match="api_error"):
        count_categories("classification", ["api_error"])
