import numpy as np
import pytest

from baseweight_assets.curves.resampling import align_questions, index_draws


def _rows(ids, cluster=None):
    return [{"question_id": q, "correct": 1.0} | ({"cluster": cluster(q)} if cluster else {}) for q in ids]


def test_align_keeps_shared_questions_in_sorted_order_and_counts_the_rest():
    aligned = align_questions({"a": _rows(["q3", "q1", "q2"]), "b": _rows(["q2", "q9", "q3"])})
    assert aligned.question_ids == ["q2", "q3"]
    assert [r["question_id"] for r in aligned.rows["a"]] == ["q2", "q3"]
    assert aligned.n_dropped == {"a": 1, "b": 1} and aligned.n_clusters == 2


def test_align_errors_name_the_list_and_question():
    with pytest.raises(ValueError, match=r"lora-50 \(training seed 1\): question_id 'q1' appears twice"):
        align_questions({"lora-50 (training seed 1)": _rows(["q1", "q1"])})
    with pytest.raises(ValueError, match="no question is shared"):
        align_questions({"a": _rows(["q1"]), "b": _rows(["q2"])})
    with pytest.raises(ValueError, match="'q1': lists disagree on its cluster"):
        align_questions({"a": _rows(["q1"], lambda q: "c1"), "b": _rows(["q1"], lambda q: "c2")})
    with pytest.raises(ValueError, match="have no cluster while others do"):
        align_questions({"a": [{"question_id": "q1", "correct": 1, "cluster": "c"}, {"question_id": "q2", "correct": 0}]})


def test_entries_stats_does_not_count_are_left_out():
    rows = _rows(["q1", "q2"]) + [{"question_id": "q3", "correct": 0.0, "category": "missing"}]
    aligned = align_questions({"a": rows})
    assert aligned.question_ids == ["q1", "q2"] and aligned.n_dropped == {"a": 1}


def test_unclustered_draws_are_plain_question_draws():
    aligned = align_questions({"a": _rows([f"q{i}" for i in range(7)])})
    rng = np.random.default_rng(5)
    expected = [rng.integers(0, 7, size=7) for _ in range(3)]
    got = list(index_draws(aligned.sampler, 3, seed=5))
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_clustered_draws_take_whole_clusters():
    ids = [f"q{i}" for i in range(9)]
    aligned = align_questions({"a": _rows(ids, lambda q: f"c{int(q[1:]) // 3}")})
    assert aligned.n_clusters == 3
    for idx in index_draws(aligned.sampler, 50, seed=1):
        assert len(idx) == 9  # 3 clusters of 3 drawn with replacement
        assert all(sorted(b) in ([0, 1, 2], [3, 4, 5], [6, 7, 8]) for b in idx.reshape(3, 3).tolist())
