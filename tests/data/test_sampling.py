import random
from collections import Counter

import pytest

from baseweight_assets.data.sampling import allocate, nested_subsets, sample, split_off, stratified_sample


def _rows(counts, flag=False):
    rows = []
    for g, n in counts.items():
        for i in range(n):
            rows.append({"id": f"{g}-{i:04d}", "group": g, "meta": {"has_answer": flag and i % 2 == 0}})
    return rows


def test_allocate_largest_remainder_is_proportional():
    assert allocate({"a": 50, "b": 30, "c": 20}, 10, 0) == {"a": 5, "b": 3, "c": 2}
    # 7 * (1/3) each = 2.33: one extra goes to the largest remainder (ties broken deterministically)
    alloc = allocate({"a": 10, "b": 10, "c": 10}, 7, 0)
    assert sum(alloc.values()) == 7 and sorted(alloc.values()) == [2, 2, 3]


def test_allocate_floor_raises_small_groups_and_trims_from_most_slack():
    alloc = allocate({"big": 1000, "small": 3}, 100, 10)
    assert alloc == {"big": 97, "small": 3}  # floor capped at what the group has; trim from big
    alloc = allocate({"a": 100, "b": 100, "c": 5}, 30, 10)  # floors 10+10+5 plus proportional share
    assert sum(alloc.values()) == 30 and alloc["c"] == 5 and abs(alloc["a"] - alloc["b"]) <= 1


def test_allocate_never_negative_when_floors_overshoot():
    counts = {f"g{i}": random.Random(i).randint(1, 40) for i in range(41)}
    alloc = allocate(counts, 20, 5)
    assert sum(alloc.values()) == 20 and min(alloc.values()) >= 0
    assert all(alloc[g] <= counts[g] for g in counts)


def test_sample_total_and_floor():
    rows = _rows({"a": 300, "b": 60, "c": 5})
    got = Counter(r["group"] for r in sample(rows, 100, 10, 0))
    assert sum(got.values()) == 100 and got["c"] == 5 and got["b"] >= 10


def test_sample_is_independent_of_input_order_and_seeded():
    rows = _rows({"a": 50, "b": 20})
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    assert [r["id"] for r in sample(rows, 30, 1, 7)] == [r["id"] for r in sample(shuffled, 30, 1, 7)]
    assert {r["id"] for r in sample(rows, 30, 1, 7)} != {r["id"] for r in sample(rows, 30, 1, 8)}


def test_balance_by_gives_half_and_half():
    rows = _rows({"a": 200, "b": 40}, flag=True)
    rows += [{"id": f"n{i}", "group": "a", "meta": {"has_answer": False}} for i in range(500)]
    got = sample(rows, 100, 1, 0, balance_by="has_answer")
    assert len(got) == 100 and sum(r["meta"]["has_answer"] for r in got) == 50


def test_stratified_resamples_have_identical_allocations():
    rows = _rows({"a": 400, "b": 90, "c": 7})
    allocs = [Counter(r["group"] for r in sample(rows, 50, 1, seed)) for seed in range(3)]
    assert allocs[0] == allocs[1] == allocs[2]
    ids = [{r["id"] for r in sample(rows, 50, 1, seed)} for seed in range(3)]
    assert ids[0] != ids[1]


def test_split_off_is_disjoint_and_complete():
    rows = _rows({"a": 30, "b": 30})
    taken, rest = split_off(rows, 10, 1, 0)
    assert len(taken) == 10 and len(rest) == 50
    assert not {r["id"] for r in taken} & {r["id"] for r in rest}


# ----------------------------------------------------------------------------- nested subsets (learning curve)


def test_nested_subsets_are_nested_prefixes_of_the_right_sizes():
    rows = _rows({"a": 300, "b": 120, "c": 9, "d": 1})
    subsets, skipped = nested_subsets(rows, [250, 50, 100, 25], seed=4)
    assert skipped == {} and list(subsets) == [25, 50, 100, 250]
    for small, big in [(25, 50), (50, 100), (100, 250)]:
        assert subsets[big][:small] == subsets[small]
    assert all(len(subsets[n]) == len(set(subsets[n])) == n for n in subsets)


def test_nested_subsets_are_stratified_like_allocate():
    rows = _rows({"a": 300, "b": 120, "c": 9, "d": 1})
    subsets, _ = nested_subsets(rows, [50, 100, 250], seed=0)
    group = {r["id"]: r["group"] for r in rows}
    available = {"a": 300, "b": 120, "c": 9, "d": 1}
    for n, ids in subsets.items():
        # allocate is monotone on these counts, so every size gets exactly its stratified allocation
        assert Counter(group[i] for i in ids) == Counter(allocate(available, n, 1))


def test_smallest_nested_subset_is_the_stratified_sample_of_that_size():
    rows = _rows({"a": 200, "b": 70, "c": 13})
    subsets, _ = nested_subsets(rows, [40, 120], seed=9)
    assert set(subsets[40]) == {r["id"] for r in stratified_sample(rows, 40, 1, 9)}


def test_nested_subsets_keep_nesting_where_largest_remainder_would_not():
    # Alabama paradox: Hamilton's method gives group "c" 2 of 10 but 1 of 11
    available = {"a": 6, "b": 6, "c": 2}
    assert allocate(available, 10, 0)["c"] == 2 and allocate(available, 11, 0)["c"] == 1
    subsets, _ = nested_subsets(_rows(available), [10, 11], seed=0, min_per_group=0)
    assert subsets[11][:10] == subsets[10] and len(subsets[11]) == 11


def test_nested_subsets_are_seeded_and_independent_of_input_order():
    rows = _rows({"a": 80, "b": 40})
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert nested_subsets(rows, [10, 60], 3) == nested_subsets(shuffled, [10, 60], 3)
    assert nested_subsets(rows, [10, 60], 3)[0][60] != nested_subsets(rows, [10, 60], 4)[0][60]


def test_sizes_above_the_available_rows_are_reported_not_capped():
    rows = _rows({"a": 30, "b": 20})
    subsets, skipped = nested_subsets(rows, [10, 50, 51, 1000], seed=0)
    assert sorted(subsets) == [10, 50] and len(subsets[50]) == 50
    assert sorted(skipped) == [51, 1000] and "only 50" in skipped[51]


def test_nested_subsets_balance_by_and_its_limits():
    rows = _rows({"a": 60, "b": 20}, flag=True)  # has_answer on even indices: 40 true, 40 false
    subsets, skipped = nested_subsets(rows, [10, 21, 80, 81], seed=2, balance_by="has_answer")
    flag = {r["id"]: r["meta"]["has_answer"] for r in rows}
    assert sum(flag[i] for i in subsets[10]) == 5 and sum(flag[i] for i in subsets[21]) == 11
    assert subsets[21][:10] == subsets[10] and subsets[80][:21] == subsets[21]
    assert list(skipped) == [81] and "has_answer=true" in skipped[81]


def test_nested_subsets_reject_bad_sizes_and_duplicate_ids():
    rows = _rows({"a": 5})
    with pytest.raises(ValueError, match="positive integers"):
        nested_subsets(rows, [0, 3], seed=0)
    with pytest.raises(ValueError, match="duplicate row ids"):
        nested_subsets(rows + rows[:1], [3], seed=0)


def test_nested_subsets_hold_their_rules_on_random_group_sizes():
    for trial in range(30):
        r = random.Random(trial)
        counts = {f"g{i}": r.randint(1, 60) for i in range(r.randint(1, 12))}
        rows = _rows(counts)
        sizes = sorted(r.sample(range(1, len(rows) + 1), k=min(5, len(rows))))
        subsets, skipped = nested_subsets(rows, sizes, seed=trial, min_per_group=r.randint(0, 3))
        assert not skipped and list(subsets) == sizes
        for small, big in zip(sizes, sizes[1:]):
            assert subsets[big][:small] == subsets[small]
        assert all(len(set(subsets[n])) == n for n in sizes)
