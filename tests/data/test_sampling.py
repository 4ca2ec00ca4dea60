import random
from collections import Counter

from baseweight_assets.data.sampling import allocate, sample, split_off


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
