"""The Hub's rows of a dataset become the same canonical rows its offline files give (``LoaderSpec.from_hub``), so a
task prepares the same examples from either source."""

import json

import pytest

from baseweight_assets.data.sources import LOADERS
from baseweight_assets.data.sources.medmcqa import _labelled
from baseweight_assets.tasks import get_kind


def test_sentence_column_becomes_text():
    rows = LOADERS["fpb"].from_hub({"train": [{"sentence": "Profit rose .", "label": 2}]})
    assert rows == {"train": [{"text": "Profit rose .", "label": 2}]}


def test_multiple_choice_hub_row_equals_the_file_row(tmp_path):
    file_row = {"id": "q1", "question": "Which?", "opa": "w", "opb": "x", "opc": 3, "opd": "z", "cop": 3,
                "choice_type": "single", "exp": "Because.", "subject_name": "Anatomy", "topic_name": None}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(file_row) + "\n")
    hub_row = {**file_row, "opc": "3", "cop": 2, "topic_name": ""}  # HF: 0-based answer, strings
    from_file = _labelled(path)[0]
    from_hub = LOADERS["medmcqa"].from_hub({"train": [hub_row]})["train"][0]
    assert from_file == from_hub
    assert from_file["answer"] == 2 and from_file["options"] == ["w", "x", "3", "z"]
    kind = get_kind("multiple_choice")
    assert kind.example("t", from_hub, ["A", "B", "C", "D"])["gold"] == "C"


def test_code_hub_rows_keep_the_task_id_in_meta():
    hub = {"task_id": 601, "text": "Add.", "code": "def add(a, b):\r\n    return a + b", "test_list": ["assert add(1, 2) == 3"],
           "test_setup_code": "", "challenge_test_list": []}
    row = LOADERS["mbpp"].from_hub({"train": [hub]})["train"][0]
    assert row == {"text": "Add.", "code": hub["code"], "test_list": hub["test_list"], "test_setup_code": "",
                   "meta": {"task_id": 601, "challenge_test_list": []}}
    assert get_kind("code").example("t", row, None)["gold"]["entry_point"] == "add"


def test_question_rows_with_contexts_become_documents_once():
    def row(qid, title, context, spans, starts):
        return {"id": qid, "title": title, "context": context, "question": f"Q {qid}",
                "answers": {"text": spans, "answer_start": starts}}

    hub = {"train": [row("K1__Parties", "K1", "Acme and Bolt agree.", ["Acme"], [0]),
                     row("K1__Governing Law", "K1", "Acme and Bolt agree.", [], [])],
           "test": [row("K2__Parties", "K2", "Cato signs.", ["Cato"], [0])]}
    out = LOADERS["cuad"].from_hub(hub)
    assert out["documents"] == [{"title": "K1", "text": "Acme and Bolt agree."}, {"title": "K2", "text": "Cato signs."}]
    assert [(q["id"], q["group"], q["fields"]) for q in out["questions"]] == [
        ("K1__Parties", "Parties", {"clause_type": "Parties"}),
        ("K1__Governing Law", "Governing Law", {"clause_type": "Governing Law"}),
        ("K2__Parties", "Parties", {"clause_type": "Parties"})]
    assert out["questions"][0]["answers"] == {"text": ["Acme"], "answer_start": [0], "located": ["verbatim"]}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_every_loader_declares_an_options_model(name):
    spec = LOADERS[name]
    assert spec.options.model_config.get("extra") == "forbid" and callable(spec.load)
