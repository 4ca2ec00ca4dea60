"""A task the package has never heard of needs only a YAML, a prompt folder and its data."""

import json

from baseweight_assets.data import checks
from baseweight_assets.data.prepare import prepare_task
from baseweight_assets.data.raw import load_raw
from baseweight_assets.prompting import PromptTemplate


def _write_data(root):
    data = root / "data"
    data.mkdir()
    lines = ["text,label"]
    for i in range(45):
        label = ["spam", "ham", "eggs"][i % 3]
        lines.append(f"\"message number {i} about {label} and item {i * 7}\",{label}")
    (data / "train.csv").write_text("\n".join(lines) + "\n")


def test_new_classification_task_prepares_end_to_end(tmp_path, make_task, classification_spec):
    _write_data(tmp_path)
    task = make_task(classification_spec("toy-intents", {"train": "train.csv", "test": "test.csv"}))
    (tmp_path / "data" / "test.csv").write_text(
        "text,label\n" + "\n".join(f"held-out text {i} topic {i * 11},{['spam', 'ham', 'eggs'][i % 3]}" for i in range(15)) + "\n")
    raw = load_raw(task, tmp_path)
    assert raw["counts"] == {"train": 45, "test": 15}
    assert raw["labels"] == ["eggs", "ham", "spam"]  # sorted: HF ClassLabel order
    prompt = PromptTemplate.load(tmp_path / "prompts", task, raw["labels"])
    prepared = prepare_task(task, raw, prompt, n_eval_seeds=2, lora_sizes=[6, "full"])
    s = prepared["splits"]
    assert len(s["val"]) == 4 and len(s["train"]) == 20 and len(s["few_shot"]) == 3
    assert len({r["group"] for r in s["few_shot"]}) == 3  # distinct labels
    assert len(prepared["test_seeds"]) == 2 and all(len(x) == 9 for x in prepared["test_seeds"])
    assert not {r["id"] for r in s["train"]} & {r["id"] for r in s["val"]}
    assert set(prepared["lora_subsets"]["lora-6"]) <= {r["id"] for r in s["train"]}
    assert len(prepared["lora_subsets"]["lora-6"]) == 6
    assert all(r["meta"]["prompt_hash"] for rows in s.values() for r in rows)
    for check in (checks.check_label_coverage, checks.check_no_train_test_overlap, checks.check_class_balance):
        assert check(prepared).passed, check(prepared).description
    again = prepare_task(task, load_raw(task, tmp_path), prompt, n_eval_seeds=2, lora_sizes=[6, "full"])
    assert json.dumps(again, sort_keys=True) == json.dumps(prepared, sort_keys=True)


def test_jsonl_loader_and_smoke_cap(tmp_path, make_task, classification_spec):
    _write_data(tmp_path)
    (tmp_path / "data" / "train.jsonl").write_text("".join(
        json.dumps({"text": f"train {i} text {i * 3}", "label": ["a", "b"][i % 2]}) + "\n" for i in range(40)))
    (tmp_path / "data" / "t.jsonl").write_text("".join(
        json.dumps({"text": f"test {i} words {i * 5}", "label": ["a", "b"][i % 2]}) + "\n" for i in range(20)))
    task = make_task(classification_spec("toy-j", {"train": "train.jsonl", "test": "t.jsonl"}, "jsonl"))
    raw = load_raw(task, tmp_path)
    prompt = PromptTemplate.load(tmp_path / "prompts", task, raw["labels"])
    prepared = prepare_task(task, raw, prompt, n_eval_seeds=2, rows_per_split=3)
    assert len(prepared["splits"]["train"]) == 3 and len(prepared["splits"]["test_pool"]) <= 3
    assert all(len(seed) == 3 for seed in prepared["test_seeds"])
