"""Seed variance: a LoRA cell trained under k training seeds, each scored on the same questions.

The cell's metric is the mean over seeds of each seed's metric. Its variance has two parts, estimated as a
crossed design (seeds x questions, score of seed s on question q = mean + seed effect + question effect +
seed-by-question noise):

- **examples**: the bootstrap variance of the seed-mean metric when questions (or clusters) are resampled
  with the same indices for every seed, seeds held fixed. Estimates Var(question effect)/n + Var(noise)/(k n).
- **seeds**: ``sigma_seed^2 / k``, where ``sigma_seed^2`` is the between-seed variance of the per-seed metrics
  minus the part of it that is per-run example noise. That part is estimated from the same draws: the mean
  single-seed bootstrap variance exceeds the seed-mean's by ``Var(noise)/n * (1 - 1/k)``. Clipped at 0.

``total = examples + seeds`` is then unbiased for the crossed model (the raw between-seed variance would
count the noise twice). Written here because no maintained library bootstraps crossed designs with
arbitrary metric factories (``scoring.stats``: ``factory(per_example) -> stat(idx)``).

CIs are percentile intervals of ``seed-mean metric on the draw + seed noise``, the noise drawn as
``sqrt(seeds) * t_{k-1}``: the classical pivot for a mean of k runs, wide on purpose when k is small (with 3
seeds the 97.5 % quantile of t_2 is 4.30, not 1.96). With one seed the seed part is not estimable (None) and
the CI covers example sampling only; with one seed the draws are exactly ``scoring.stats.bootstrap_ci``'s
and ``paired_bootstrap``'s (same sampler, same generator), so the numbers agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from baseweight_assets.curves.resampling import Aligned, align_questions, index_draws
from baseweight_assets.scoring.stats import MetricFactory, mean_correct
from baseweight_assets.storage.hashing import stable_hash

ONE_SEED_NOTE = "one training seed: seed variance not estimable; the CI covers example sampling only"


@dataclass(frozen=True)
class CellDraws:
    """One cell's bootstrap draws on shared question indices. ``draws = example_draws + noise``."""

    name: str
    seed_values: np.ndarray  # each seed's metric on all shared questions
    example_draws: np.ndarray  # (R,) seed-mean metric on each index draw
    noise: np.ndarray  # (R,) seed-mean noise, zeros for one seed
    variance: dict

    @property
    def value(self) -> float:
        return float(self.seed_values.mean())

    @property
    def n_seeds(self) -> int:
        return len(self.seed_values)

    @property
    def draws(self) -> np.ndarray:
        return self.example_draws + self.noise


def _list_name(cell: str, i: int, k: int) -> str:
    return cell if k == 1 else f"{cell} (training seed {i})"


def variance_parts(seed_values: np.ndarray, per_seed_draws: np.ndarray) -> dict:
    """The two parts of the seed-mean metric's variance (module docstring); ``per_seed_draws`` is (R, k)."""
    k = per_seed_draws.shape[1]
    examples = float(np.var(per_seed_draws.mean(axis=1), ddof=1))
    if k < 2:
        return {"examples": examples, "seeds": None, "total": examples, "seed_sd": None, "seed_share": None,
                "n_seeds": k, "note": ONE_SEED_NOTE}
    each = float(np.mean(np.var(per_seed_draws, axis=0, ddof=1)))
    run_noise = max(0.0, (each - examples) * k / (k - 1))
    sigma2_seed = max(0.0, float(np.var(seed_values, ddof=1)) - run_noise)
    seeds = sigma2_seed / k
    total = examples + seeds
    return {"examples": examples, "seeds": seeds, "total": total, "seed_sd": math.sqrt(sigma2_seed),
            "seed_share": seeds / total if total > 0 else None, "n_seeds": k, "note": None}


def joint_draws(cells: Mapping[str, Sequence[list[dict]]], metric_fn: MetricFactory = mean_correct,
                n_resamples: int = 1000, seed: int = 0) -> tuple[Aligned, dict[str, CellDraws]]:
    """Draws for every cell (name -> per-seed per_example lists; an API cell is a list of one) on the SAME
    question indices. Questions not shared by every list are left out (``Aligned.n_dropped`` counts them)."""
    empty = [name for name, per_seed in cells.items() if not per_seed]
    if empty:
        raise ValueError(f"cells without any scored run: {empty}")
    if n_resamples < 2:
        raise ValueError(f"joint_draws: n_resamples must be at least 2, got {n_resamples}")
    flat = {(name, i): rows for name, per_seed in cells.items() for i, rows in enumerate(per_seed)}
    names = {key: _list_name(key[0], key[1], len(cells[key[0]])) for key in flat}
    aligned = align_questions({names[key]: rows for key, rows in flat.items()})
    stats = {key: metric_fn(aligned.rows[names[key]]) for key in flat}
    keys = list(flat)
    n = len(aligned.question_ids)
    full = np.arange(n)
    matrix = np.array([[stats[key](idx) for key in keys]
                       for idx in index_draws(aligned.sampler, n_resamples, seed)], dtype=float)
    out = {}
    for name, per_seed in cells.items():
        cols = [keys.index((name, i)) for i in range(len(per_seed))]
        per_seed_draws = matrix[:, cols]
        seed_values = np.array([stats[(name, i)](full) for i in range(len(per_seed))], dtype=float)
        parts = variance_parts(seed_values, per_seed_draws)
        noise = np.zeros(n_resamples)
        if parts["seeds"]:
            # a stream per (seed, cell name): the same cell gets the same noise alone or in a joint analysis
            rng = np.random.default_rng(int(stable_hash([seed, "seed-noise", name])[:16], 16))
            noise = math.sqrt(parts["seeds"]) * rng.standard_t(len(per_seed) - 1, size=n_resamples)
        out[name] = CellDraws(name=name, seed_values=seed_values, example_draws=per_seed_draws.mean(axis=1),
                              noise=noise, variance=parts)
    return aligned, out


def _interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    lo, hi = np.nanquantile(draws, [alpha, 1 - alpha])
    return float(lo), float(hi)


def cell_summary(cell: CellDraws, confidence: float = 0.95) -> dict:
    """-> {"metric" (mean over seeds), "ci_lo", "ci_hi", "n_seeds", "seed_values", "variance"}."""
    lo, hi = _interval(cell.draws, confidence)
    return {"metric": cell.value, "ci_lo": lo, "ci_hi": hi, "n_seeds": cell.n_seeds,
            "seed_values": [float(v) for v in cell.seed_values], "variance": dict(cell.variance)}


def paired_summary(a: CellDraws, b: CellDraws, confidence: float = 0.95) -> dict:
    """Metric(a) - metric(b) on the shared draws, seed noise of both cells included.

    -> {"diff", "ci_lo", "ci_hi", "variance": {"examples", "seeds", "total"}}. No p-value: ``scoring.stats``
    takes p-values from a permutation test, which has no version that carries seed variance; the CI does."""
    example_diff = a.example_draws - b.example_draws
    lo, hi = _interval(example_diff + a.noise - b.noise, confidence)
    seed_parts = [c.variance["seeds"] for c in (a, b) if c.variance["seeds"] is not None]
    examples = float(np.var(example_diff, ddof=1))
    seeds = float(sum(seed_parts)) if seed_parts else None
    return {"diff": a.value - b.value, "ci_lo": lo, "ci_hi": hi,
            "variance": {"examples": examples, "seeds": seeds, "total": examples + (seeds or 0.0)}}


def _counts(aligned: Aligned) -> dict:
    return {"n": len(aligned.question_ids), "n_clusters": aligned.n_clusters}


def seeded_cell(per_seed: Sequence[list[dict]], metric_fn: MetricFactory = mean_correct, n_resamples: int = 1000,
                seed: int = 0, confidence: float = 0.95, name: str = "cell") -> dict:
    """A cell scored under k training seeds: ``cell_summary`` plus "n" (shared questions) and "n_clusters"."""
    aligned, draws = joint_draws({name: per_seed}, metric_fn, n_resamples, seed)
    return _counts(aligned) | cell_summary(draws[name], confidence)


def seeded_paired(per_seed: Sequence[list[dict]], other: list[dict], metric_fn: MetricFactory = mean_correct,
                  n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95, name: str = "cell",
                  other_name: str = "other") -> dict:
    """A seeded cell against a single-run cell (e.g. an API cell) on their shared questions:
    ``paired_summary`` plus "n", "n_clusters" and "n_seeds"."""
    if name == other_name:
        raise ValueError(f"seeded_paired: both cells are named {name!r}")
    aligned, draws = joint_draws({name: per_seed, other_name: [other]}, metric_fn, n_resamples, seed)
    return _counts(aligned) | {"n_seeds": len(per_seed)} | paired_summary(draws[name], draws[other_name], confidence)
