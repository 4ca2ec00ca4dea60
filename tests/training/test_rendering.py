from __future__ import annotations

from pathlib import Path

import pytest
from tiny_model import fruit_rows, render_messages

from baseweight_assets.training.errors import TrainingInputError
from baseweight_assets.training.rendering import IGNORE_INDEX, check_messages, render_chat, render_chats, tokenize_chats

SMOLLM2 = Path(__file__).resolve().parents[2] / ".cache" / "models" / "smollm2-135m"


def _supervised_text(tokenizer, input_ids, labels) -> str:
    return tokenizer.decode([t for t, lab in zip(input_ids, labels) if lab != IGNORE_INDEX])


def _prompt_text(tokenizer, input_ids, labels) -> str:
    return tokenizer.decode([t for t, lab in zip(input_ids, labels) if lab == IGNORE_INDEX])


def test_mask_covers_only_the_assistant_answer_tiny(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = render_messages(fruit_rows(1)[0])
    ids, labels = render_chat(tok, messages)
    assert len(ids) == len(labels)
    assert _supervised_text(tok, ids, labels) == "The lime is green.<|im_end|>\n"
    assert _prompt_text(tok, ids, labels).endswith("<|im_start|>assistant\n")
    # labels are the input ids themselves (the model shifts them), not shifted copies
    assert all(lab == tid for tid, lab in zip(ids, labels) if lab != IGNORE_INDEX)


@pytest.mark.skipif(not (SMOLLM2 / "tokenizer.json").is_file(), reason=f"real SmolLM2 tokenizer not built at {SMOLLM2}")
def test_mask_on_real_smollm2_rendered_example():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(SMOLLM2)
    messages = [{"role": "system", "content": "Classify the banking query into one intent label."},
                {"role": "user", "content": "Query: my card still hasn't arrived after two weeks\nLabel:"},
                {"role": "assistant", "content": "card_arrival"}]
    ids, labels = render_chat(tok, messages)
    supervised = [t for t, lab in zip(ids, labels) if lab != IGNORE_INDEX]
    assert _supervised_text(tok, ids, labels) == "card_arrival<|im_end|>\n"
    # the masked prefix is exactly the generation prompt the model sees at inference time
    prompt_ids = tok(tok.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True),
                     add_special_tokens=False)["input_ids"]
    assert ids[: len(ids) - len(supervised)] == prompt_ids
    assert labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)


def test_enable_thinking_reaches_the_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' }}"
        "{% if m['role'] == 'assistant' and enable_thinking is defined and not enable_thinking %}{{ '<think></think>' }}{% endif %}"
        "{{ m['content'] + '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
        "{% if enable_thinking is defined and not enable_thinking %}{{ '<think></think>' }}{% endif %}{% endif %}"
    )
    messages = render_messages(fruit_rows(1)[0])
    ids, labels = render_chat(tok, messages, template_kwargs={"enable_thinking": False})
    assert "<think></think>" in _prompt_text(tok, ids, labels)
    assert _supervised_text(tok, ids, labels) == "The lime is green.<|im_end|>\n"
    ids, labels = render_chat(tok, messages)
    assert "<think>" not in tok.decode(ids)


def test_over_long_examples_are_dropped_and_counted(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = fruit_rows(4)
    rows[1]["fields"]["text"] = "What color is the lime? " * 40
    chats = render_chats(rows, render_messages)
    out, report = tokenize_chats([r["id"] for r in rows], chats, tok, max_seq_length=64)
    assert len(out) == 3 and report.n_kept == 3
    assert report.as_dict()["n_dropped_too_long"] == 1 and report.dropped_too_long == ["ex-1"]
    assert all(len(r["input_ids"]) <= 64 for r in out)


@pytest.mark.parametrize("bad, fragment", [
    ([], "not a chat"),
    ([{"role": "user", "content": "hi"}], "last message must be the assistant"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}], "assistant target is empty"),
    ([{"role": "user"}, {"role": "assistant", "content": "x"}], "message 0"),
])
def test_malformed_chats_name_the_row(bad, fragment):
    with pytest.raises(TrainingInputError, match=fragment) as info:
        check_messages(bad, "row-7")
    assert "row-7" in str(info.value)


def test_render_messages_failure_names_the_row():
    with pytest.raises(TrainingInputError, match="'ex-0'.*KeyError"):
        render_chats([{"id": "ex-0", "fields": {}}], lambda row: [{"role": "user", "content": row["fields"]["text"]}])
