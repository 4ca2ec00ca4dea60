import numpy as np
import pytest
from sklearn.metrics import f1_score

from baseweight_assets.scoring.classification import accuracy, encode, f1_from_codes, macro_f1, weighted_f1


@pytest.mark.parametrize("seed", range(5))
def test_f1_matches_sklearn_on_gold_label_set(seed):
    rng = np.random.default_rng(seed)
    labels = [f"l{i}" for i in range(12)]
    gold = list(rng.choice(labels[:8], size=200))
    pred = [None if rng.random() < 0.1 else str(rng.choice(labels)) for _ in gold]  # some invalid, some unseen
    pred_s = ["__INVALID__" if p is None else p for p in pred]
    ref_labels = sorted(set(gold))
    assert macro_f1(gold, pred) == pytest.approx(
        f1_score(gold, pred_s, labels=ref_labels, average="macro", zero_division=0), abs=1e-12)
    assert weighted_f1(gold, pred) == pytest.approx(
        f1_score(gold, pred_s, labels=ref_labels, average="weighted", zero_division=0), abs=1e-12)
    assert accuracy(gold, pred) == pytest.approx(np.mean([g == p for g, p in zip(gold, pred_s)]))


def test_labels_only_in_predictions_do_not_join_macro_average():
    gold = ["a", "a", "b", "b"]
    assert macro_f1(gold, ["a", "a", "b", "b"]) == 1.0
    assert macro_f1(gold, ["a", "a", "b", "zzz"]) == pytest.approx((1.0 + 2 / 3) / 2)


def test_resampled_codes_use_the_resample_gold_set():
    g, p, k = encode(["a", "b", "c"], ["a", "c", "c"])
    idx = np.array([0, 0, 1])  # gold set of the resample is {a, b}; the "c" prediction counts for nothing
    expected = f1_score(["a", "a", "b"], ["a", "a", "c"], labels=["a", "b"], average="macro", zero_division=0)
    assert f1_from_codes(g[idx], p[idx], k, "macro") == pytest.approx(expected)
