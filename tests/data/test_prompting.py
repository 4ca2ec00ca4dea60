import pytest

from baseweight_assets.prompting import PromptError, PromptTemplate, messages_hash


def test_messages_order_and_hash(tmp_path, make_task, classification_spec):
    task = make_task(classification_spec("p", {"train": "x.csv"}))
    prompt = PromptTemplate.load(tmp_path / "prompts", task, ["a", "b"])
    shot = {"fields": {"text": "one"}, "target": "a"}
    msgs = prompt.render_messages({"fields": {"text": "two"}, "target": "b"}, [shot])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"] == "Labels: a, b" and msgs[2]["content"] == "a" and msgs[3]["content"] == "two"
    assert messages_hash(msgs) != messages_hash(msgs[:1] + msgs[3:])


def test_missing_variable_fails_and_hash_follows_files(tmp_path, make_task, classification_spec):
    task = make_task(classification_spec("p2", {"train": "x.csv"}), user="{{ txet }}")
    prompt = PromptTemplate.load(tmp_path / "prompts", task, ["a"])
    with pytest.raises(PromptError, match="txet"):
        prompt.render_messages({"fields": {"text": "x"}, "target": "a"})
    before = prompt.hash
    task = make_task(classification_spec("p2", {"train": "x.csv"}), user="{{ text }}")
    assert PromptTemplate.load(tmp_path / "prompts", task, None).hash != before
