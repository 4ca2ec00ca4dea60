import pytest

from baseweight_assets.scoring.categories import SUCCESS, code_category, label_category
from baseweight_assets.tasks import KINDS, get_kind


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


def test_every_task_kind_counts_missing_and_truncated_failures_first_successes_last():
    for task_type, kind in KINDS.items():
        cats = kind.categories
        assert cats[:2] == ("missing", "truncated"), task_type
        successes = [c for c in cats if c in SUCCESS]
        assert successes and list(cats[-len(successes):]) == successes, task_type
    counts = get_kind("extraction").count_categories(["empty", "missing", "correct", "empty"])
    assert counts["empty"] == 2 and counts["missing"] == 1 and sum(counts.values()) == 4
    assert list(counts)[-1] == "correct"
    with pytest.raises(ValueError, match="unknown classification category 'api_error'"):
        get_kind("classification").count_categories(["api_error"])
