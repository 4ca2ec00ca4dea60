"""Pool rules (configs/tasks/*.yaml ``pools`` and ``keep_rows``): how raw splits become train/val/test/few-shot."""

import random

import pytest
from pydantic import ValidationError

from baseweight_assets.config.schema import PoolRule, TaskConfig
from baseweight_assets.data.errors import DataError
from baseweight_assets.data.pools import build_pools, carve_count, carve_units
from baseweight_assets.data.sampling import split_off
from baseweight_assets.tasks import get_kind

LABELS = ["neg", "pos"]


def _task(pools=None, keep_rows=None, source="offline", **extra):
    spec = {"loader": "csv", "dir": "d"} if source == "offline" else {"path": "x/y", "revision": "abc"}
    if pools is not None:
        spec["pools"] = pools
    if keep_rows is not None:
        spec["keep_rows"] = keep_rows
    return TaskConfig(id="toy", name="toy", task_type="classification", metric="accuracy", max_output_tokens=4,
                      source={source: spec}, sampling={"seed": 3}, **extra)


def _raw(splits, source="offline"):
    return {"task": "toy", "source": source, "splits": splits, "labels": LABELS}


def _rows(n, start=0):
    return [{"text": f"sentence number {start + i} about thing {i * 7}", "label": i % 2} for i in range(n)]


def _pools(task, raw):
    kind = get_kind("classification")
    return build_pools(task, raw, lambda r: kind.example(task.id, r, LABELS))


def test_default_rule_maps_train_and_test_splits():
    pools, report = _pools(_task(), _raw({"train": _rows(6), "test": _rows(4, 100)}))
    assert [len(pools["train"]), len(pools["test"])] == [6, 4]
    assert [r["fields"]["text"] for r in pools["test"]] == [r["text"] for r in _rows(4, 100)]  # file order
    assert report["pool_rules"] == {"train": "the rest of 'train': 6 rows", "test": "the rest of 'test': 4 rows"}


def test_fraction_carve_is_split_off_of_floor_and_the_rest_keeps_the_split():
    task = _task({"test": {"split": "train", "fraction": 0.15, "min_per_group": 1}, "train": {"split": "train"}})
    rows = _rows(47)
    pools, report = _pools(task, _raw({"train": rows}))
    kind = get_kind("classification")
    examples = [kind.example("toy", r, LABELS) for r in rows]
    want_test, want_train = split_off(examples, 7, 1, 3, "group")  # floor(0.15 x 47) = 7
    assert [r["id"] for r in pools["test"]] == [r["id"] for r in want_test]
    assert [r["id"] for r in pools["train"]] == [r["id"] for r in want_train]
    assert {r["group"] for r in pools["test"]} == {"neg", "pos"}
    assert "seeded 15% of 'train', stratified by group: 7 rows" == report["pool_rules"]["test"]


def test_carve_count_is_floor_but_never_empty():
    assert [carve_count(0.15, 4846), carve_count(0.2, 510), carve_count(0.1, 1000), carve_count(0.2, 3)] == \
        [726, 102, 100, 1]


def test_size_carve_and_few_shot_pool_from_test():
    task = _task({"few_shot": {"split": "test", "size": 4}, "test": {"split": "test"}})
    pools, _ = _pools(task, _raw({"test": _rows(10)}))
    assert len(pools["few_shot"]) == 4 and len(pools["test"]) == 6 and pools["train"] == []
    assert not {r["id"] for r in pools["few_shot"]} & {r["id"] for r in pools["test"]}


def test_unit_carve_keeps_every_row_of_a_unit_in_one_pool():
    rows = [{"id": f"r{i}", "meta": {"doc": f"d{i % 5}"}} for i in range(20)]
    taken, rest = carve_units(rows, "doc", 0.4, seed=9)
    units = sorted({f"d{i}" for i in range(5)})
    random.Random(9).shuffle(units)
    assert {r["meta"]["doc"] for r in taken} == set(units[:2])  # floor(0.4 x 5) = 2 units, seeded shuffle
    assert len(taken) == 8 and [r["id"] for r in rest] == [r["id"] for r in rows if r not in taken]
    with pytest.raises(DataError, match="'r0'.*'title'"):
        carve_units(rows, "title", 0.4, seed=9)


def test_keep_rows_and_min_meta_drop_and_report():
    task = _task({"test": {"split": "all", "size": 2}, "train": {"split": "all", "min_meta": {"n": 5}}},
                 keep_rows={"kind": "keep"})
    rows = [{**r, "kind": "keep" if i % 4 else "drop"} for i, r in enumerate(_rows(12))]
    kind = get_kind("classification")

    def example(r):
        ex = kind.example("toy", r, LABELS)
        ex["meta"]["n"] = int(r["text"].split()[2])  # the row's number
        return ex

    pools, report = build_pools(task, _raw({"all": rows}), example)
    assert report["dropped_rows"]["all"] == {"rule": "keep rows where kind == 'keep'", "n": 3}
    kept_numbers = {r["meta"]["n"] for r in pools["train"]}
    assert all(n >= 5 for n in kept_numbers) and len(pools["test"]) == 2
    remaining = {i for i in range(12) if i % 4} - {r["meta"]["n"] for r in pools["test"]}
    assert kept_numbers == {n for n in remaining if n >= 5}
    assert report["dropped_rows"]["train"]["n"] == len([n for n in remaining if n < 5])


def test_the_rule_of_the_source_the_rows_came_from():
    hub_rules = {"test": {"split": "validation"}, "train": {"split": "train"}}
    task = TaskConfig(id="toy", name="toy", task_type="classification", metric="accuracy", max_output_tokens=4,
                      source={"hub": {"path": "x/y", "revision": "abc", "pools": hub_rules},
                              "offline": {"loader": "csv", "dir": "d"}})
    hub, _ = _pools(task, _raw({"train": _rows(3), "validation": _rows(2, 50)}, source="hub"))
    assert len(hub["test"]) == 2
    with pytest.raises(DataError, match=r"raw split\(s\) \['test'\], the offline data has \['train', 'validation'\]"):
        _pools(task, _raw({"train": _rows(3), "validation": _rows(2, 50)}))


@pytest.mark.parametrize("pools,message", [
    ({"train": {"split": "train"}}, "needs a 'test' pool"),
    ({"train": {"split": "all"}, "test": {"split": "all", "fraction": 0.2}}, "already used up by pool 'train'"),
    ({"test": {"split": "all", "fraction": 0.2, "size": 3}}, "not both"),
    ({"test": {"split": "all", "by": "title"}}, "needs 'fraction'"),
    ({"test": {"split": "all", "fraction": 1.5}}, "less than 1"),
    ({"tests": {"split": "all"}}, "'train', 'val', 'test' or 'few_shot'"),
])
def test_bad_pool_rules_are_rejected(pools, message):
    with pytest.raises(ValidationError, match=message):
        _task(pools)


def test_pool_rule_carves_flag():
    assert PoolRule(split="a", size=2).carves and not PoolRule(split="a").carves
