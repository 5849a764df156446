"""Bootstrap confidence intervals and paired tests over per-sample statistics (models are never re-run)."""

from __future__ import annotations

from typing import Any

import numpy as np


def bootstrap_ci(
    evaluator: Any, stats: Any, resamples: int = 500, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile CI per metric: ``evaluator.aggregate`` on ``resamples`` resamples (with replacement)."""
    n = len(stats)
    if n == 0 or resamples <= 0:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(resamples):
        for metric, value in evaluator.aggregate(stats, rng.integers(0, n, size=n)).items():
            draws.setdefault(metric, []).append(value)
    tail = (1.0 - confidence) / 2 * 100
    return {m: (float(np.nanpercentile(v, tail)), float(np.nanpercentile(v, 100 - tail))) for m, v in draws.items()}


def paired_bootstrap_test(
    evaluator: Any, stats_a: Any, stats_b: Any, resamples: int = 1000, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Per metric: delta = metric(B) - metric(A) on the same samples, and a two-sided paired bootstrap
    p-value (share of resamples whose centred delta is at least as extreme as the observed one)."""
    n = len(stats_a)
    if n != len(stats_b):
        raise ValueError(f"a paired test needs the same samples: system A has {n}, system B {len(stats_b)}")
    if n == 0:
        raise ValueError("a paired test needs at least one sample")
    observed_a, observed_b = evaluator.aggregate(stats_a), evaluator.aggregate(stats_b)
    observed = {m: observed_b[m] - observed_a[m] for m in observed_a}
    rng = np.random.default_rng(seed)
    deltas: dict[str, list[float]] = {m: [] for m in observed}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)  # the same indices for both systems: that is the pairing
        a, b = evaluator.aggregate(stats_a, idx), evaluator.aggregate(stats_b, idx)
        for m in observed:
            deltas[m].append(b[m] - a[m])
    result = {}
    for m, delta in observed.items():
        spread = np.asarray(deltas[m]) - np.nanmean(deltas[m])  # the null: no difference
        extreme = np.sum(np.abs(spread) >= abs(delta) - 1e-12)
        result[m] = {"delta": float(delta), "p_value": float((extreme + 1) / (resamples + 1)),
                     "a": float(observed_a[m]), "b": float(observed_b[m])}
    return result


def bootstrap_sums(stats: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    """[resamples, ...]: the sum of ``stats`` ([n, ...] additive per-sample counts) over each bootstrap resample.

    The resamples are ``bootstrap_ci``'s (the same draws for the same seed), so tables of counts (per-finding
    tp/fp/fn) get intervals that match the leaderboard's; one matrix product instead of a loop per resample.
    """
    n = len(stats)
    rng = np.random.default_rng(seed)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)]).astype(float)
    flat = np.asarray(stats, dtype=float).reshape(n, -1)
    return (weights.reshape(resamples, n) @ flat).reshape(resamples, *np.shape(stats)[1:])
