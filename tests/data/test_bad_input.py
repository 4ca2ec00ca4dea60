import gzip
import json

import pytest

from baseweight_assets.data.errors import DataError
from baseweight_assets.data.raw import load_raw


def _task(make_task, spec, files, loader="csv", **extra):
    return make_task(spec("bad", files, loader, **extra))


def test_missing_column_names_file_and_field(tmp_path, make_task, classification_spec):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("text,category\nhello,a\n")
    with pytest.raises(DataError, match=r"train\.csv: row 1: field 'label': missing column"):
        load_raw(_task(make_task, classification_spec, {"train": "train.csv"}), tmp_path)


def test_unknown_label_names_row(tmp_path, make_task, classification_spec):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("text,label\nhello,a\nworld,zzz\n")
    task = _task(make_task, classification_spec, {"train": "train.csv"}, labels=["a", "b"])
    with pytest.raises(DataError, match=r"train\.csv: row 3: field 'label': unknown label 'zzz'"):
        load_raw(task, tmp_path)


def test_truncated_jsonl_names_row(tmp_path, make_task, classification_spec):
    (tmp_path / "data").mkdir()
    good = json.dumps({"text": "x", "label": "a"})
    (tmp_path / "data" / "t.jsonl").write_text(good + "\n" + good + "\n" + good[:9])
    with pytest.raises(DataError, match=r"t\.jsonl: row 3: not valid JSON.*truncated"):
        load_raw(_task(make_task, classification_spec, {"test": "t.jsonl"}, "jsonl"), tmp_path)


def test_truncated_gzip(tmp_path, make_task, classification_spec):
    (tmp_path / "data").mkdir()
    blob = gzip.compress(("\n".join(json.dumps({"text": f"t{i}", "label": "a"}) for i in range(500))).encode())
    (tmp_path / "data" / "t.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"t\.jsonl\.gz: .*truncated"):
        load_raw(_task(make_task, classification_spec, {"test": "t.jsonl.gz"}, "jsonl"), tmp_path)


def test_csv_row_with_missing_cell_and_empty_text(tmp_path, make_task, classification_spec):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("text,label\nhello,a\nonly-one-cell\n")
    with pytest.raises(DataError, match=r"train\.csv: row 3"):
        load_raw(_task(make_task, classification_spec, {"train": "train.csv"}), tmp_path)
    (tmp_path / "data" / "train.csv").write_text("text,label\nhello,a\n  ,a\n")
    with pytest.raises(DataError, match=r"row 3: field 'text': empty"):
        load_raw(_task(make_task, classification_spec, {"train": "train.csv"}), tmp_path)


def test_missing_file_and_unknown_loader(tmp_path, make_task, classification_spec):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_raw(_task(make_task, classification_spec, {"train": "nope.csv"}), tmp_path)
    spec = classification_spec("bad2", {"train": "x.csv"}, "parquet-magic")
    with pytest.raises(DataError, match="unknown offline loader 'parquet-magic'"):
        load_raw(make_task(spec), tmp_path)


def test_fpb_line_without_label(tmp_path, make_task, classification_spec):
    d = tmp_path / "data"
    d.mkdir()
    (d / "Sentences_50Agree.txt").write_bytes("Profit rose .@positive\r\nNo label here\r\n".encode("latin-1"))
    spec = classification_spec("fpb-bad", {}, "fpb", labels=["negative", "neutral", "positive"])
    spec["source"]["offline"].update({"options": {"agreement": "50"}})
    with pytest.raises(DataError, match=r"Sentences_50Agree\.txt: row 2: field 'label'"):
        load_raw(make_task(spec), tmp_path)


def test_loader_options_are_checked_when_loading(tmp_path, make_task, classification_spec):
    (tmp_path / "data").mkdir()
    spec = classification_spec("fpb-typo", {}, "fpb", labels=["negative", "neutral", "positive"])
    spec["source"]["offline"].update({"options": {"agreemnt": "50"}})
    with pytest.raises(DataError, match=r"task 'fpb-typo': source\.offline\.options\.agreemnt: Extra inputs"):
        load_raw(make_task(spec), tmp_path)
