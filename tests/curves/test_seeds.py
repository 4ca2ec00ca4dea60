import numpy as np
import pytest

from baseweight_assets.curves.seeds import seeded_cell, seeded_paired
from baseweight_assets.scoring.stats import bootstrap_ci, mean_correct, paired_bootstrap


def _rows(values, prefix="q"):
    return [{"question_id": f"{prefix}{i:04d}", "correct": float(v)} for i, v in enumerate(values)]


def _crossed(rng, k, n, sd_seed, sd_question, sd_noise):
    """Scores of k seeds on n questions: 0.5 + seed effect + question effect + noise (a crossed design)."""
    y = (0.5 + rng.normal(0, sd_seed, k)[:, None] + rng.normal(0, sd_question, n)[None, :]
         + rng.normal(0, sd_noise, (k, n)))
    return [_rows(row) for row in y]


def test_one_seed_gives_the_stats_module_intervals():
    rng = np.random.default_rng(0)
    a, b = _rows(rng.random(300) < 0.7), _rows(rng.random(300) < 0.6)
    cell = seeded_cell([a], n_resamples=500, seed=3)
    assert (cell["ci_lo"], cell["ci_hi"]) == bootstrap_ci(mean_correct, a, 500, 3)
    assert cell["variance"]["seeds"] is None and "not estimable" in cell["variance"]["note"]
    got, want = seeded_paired([a], b, n_resamples=500, seed=3), paired_bootstrap(a, b, n_resamples=500, seed=3)
    for key in ("n", "n_clusters", "diff", "ci_lo", "ci_hi"):
        assert got[key] == pytest.approx(want[key], abs=1e-12)


def test_cell_metric_is_the_mean_over_seeds_on_shared_questions():
    seeds = [_rows([1, 1, 0, 0]), _rows([1, 1, 1, 0]), _rows([1, 1, 1, 1]) + _rows([0], prefix="extra")]
    cell = seeded_cell(seeds, n_resamples=200, seed=0)
    assert cell["n"] == 4 and cell["n_seeds"] == 3
    assert cell["seed_values"] == [0.5, 0.75, 1.0] and cell["metric"] == pytest.approx(0.75)


def test_decomposition_recovers_known_seed_and_example_variances():
    # one large crossed design: k seeds x n questions with known variance components
    k, n, sd_seed, sd_q, sd_e = 40, 400, 0.04, 0.3, 0.3
    cell = seeded_cell(_crossed(np.random.default_rng(11), k, n, sd_seed, sd_q, sd_e), n_resamples=300, seed=1)
    var = cell["variance"]
    assert var["examples"] == pytest.approx(sd_q**2 / n + sd_e**2 / (k * n), rel=0.25)
    assert var["seeds"] == pytest.approx(sd_seed**2 / k, rel=0.35)
    assert var["seed_sd"] == pytest.approx(sd_seed, rel=0.2)
    assert var["total"] == pytest.approx(var["examples"] + var["seeds"])


def test_total_variance_matches_the_sampling_variance_of_the_cell_metric():
    # 3 seeds, as the full profile trains: the estimated total averages to the true variance of the metric
    k, n, sd_seed, sd_q, sd_e = 3, 300, 0.03, 0.15, 0.45  # noise large enough that counting it twice shows
    rng = np.random.default_rng(2)
    metrics, totals, seed_parts = [], [], []
    for rep in range(150):
        cell = seeded_cell(_crossed(rng, k, n, sd_seed, sd_q, sd_e), n_resamples=150, seed=rep)
        metrics.append(cell["metric"])
        totals.append(cell["variance"]["total"])
        seed_parts.append(cell["variance"]["seeds"])
    truth = sd_seed**2 / k + sd_q**2 / n + sd_e**2 / (k * n)
    assert np.var(metrics, ddof=1) == pytest.approx(truth, rel=0.3)
    assert np.mean(totals) == pytest.approx(truth, rel=0.15)
    assert np.mean(seed_parts) == pytest.approx(sd_seed**2 / k, rel=0.3)  # not the raw between-seed variance


def test_seed_variance_widens_the_interval_and_the_paired_test():
    rng = np.random.default_rng(4)
    steady = _crossed(rng, 3, 300, 0.0, 0.3, 0.0)  # seeds identical: no seed variance
    shaky = [[r | {"correct": r["correct"] + shift} for r in steady[0]] for shift in (-0.05, 0.0, 0.05)]
    api = _rows(np.full(300, 0.45))
    calm, wide = seeded_cell(steady, n_resamples=400), seeded_cell(shaky, n_resamples=400)
    assert calm["variance"]["seeds"] == pytest.approx(0.0, abs=1e-12)
    assert wide["variance"]["seeds"] == pytest.approx(0.05**2 / 3, rel=1e-6)  # no example noise differs by seed
    assert wide["ci_hi"] - wide["ci_lo"] > 2 * (calm["ci_hi"] - calm["ci_lo"])
    paired = seeded_paired(shaky, api, n_resamples=400)  # same cell name: same seed-noise stream as seeded_cell
    assert paired["diff"] == pytest.approx(wide["metric"] - 0.45)
    assert paired["variance"]["seeds"] == pytest.approx(wide["variance"]["seeds"])
    # the API scores are constant, so the paired interval is the cell's, shifted by 0.45
    assert paired["ci_lo"] == pytest.approx(wide["ci_lo"] - 0.45) and paired["ci_hi"] == pytest.approx(wide["ci_hi"] - 0.45)


def test_clusters_are_resampled_whole():
    # 20 clusters of 10 identical questions: the clustered CI is the one of 20 draws, much wider than 200
    values = np.repeat(np.random.default_rng(3).random(20) < 0.5, 10)
    rows = [r | {"cluster": f"c{i // 10}"} for i, r in enumerate(_rows(values))]
    clustered = seeded_cell([rows], n_resamples=400)
    flat = seeded_cell([[{k: v for k, v in r.items() if k != "cluster"} for r in rows]], n_resamples=400)
    assert clustered["n_clusters"] == 20 and flat["n_clusters"] == 200
    assert (clustered["ci_lo"], clustered["ci_hi"]) == bootstrap_ci(mean_correct, rows, 400, 0)
    assert clustered["ci_hi"] - clustered["ci_lo"] > 2.5 * (flat["ci_hi"] - flat["ci_lo"])
