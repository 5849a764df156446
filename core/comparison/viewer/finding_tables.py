"""Per-finding tables: F1, precision and recall per system and CheXpert observation with bootstrap 95% CIs."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from radzoo.evaluation.statistics import bootstrap_sums

MEASURES = ("f1", "precision", "recall")


def _measures(counts: np.ndarray) -> np.ndarray:
    """[..., 3 (tp, fp, fn)] -> [..., 3 (f1, precision, recall)]; NaN where the measure has nothing to count."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack([2 * tp / (2 * tp + fp + fn), tp / (tp + fp), tp / (tp + fn)], axis=-1)


def _with_averages(counts: np.ndarray, rows: Sequence[int], zero_division: float) -> np.ndarray:
    """[..., 14, 3] counts -> [..., len(rows) + 2, 3] measures: the chosen observations, micro, macro. The macro
    F1 counts an observation with nothing to count as ``zero_division``, as the leaderboard's macro F1 does."""
    chosen = counts[..., list(rows), :]
    per_obs = _measures(chosen)
    micro = _measures(chosen.sum(axis=-2))[..., None, :]
    for_macro = per_obs.copy()
    for_macro[..., 0] = np.nan_to_num(for_macro[..., 0], nan=zero_division)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an observation no report names has no precision
        macro = np.nanmean(for_macro, axis=-2)[..., None, :]
    return np.concatenate([per_obs, micro, macro], axis=-2)


def _cell(value: float, low: float, high: float) -> list[float | None]:
    return [None if np.isnan(x) else round(float(x), 3) for x in (value, low, high)]


def finding_tables(counts: Mapping[str, np.ndarray], names: Sequence[str], subsets: Mapping[str, Sequence[str]], *,
                   uncertain: str, zero_division: float, resamples: int, seed: int) -> dict[str, Any]:
    """For each subset of observations (e.g. the 14 and the 5): rows (observations, then micro and macro averages)
    x systems x measures, each [value, ci_low, ci_high], and how many studies' references are positive for each
    observation. ``counts``: per system the evaluator's per-study [n, len(names), (tp, fp, fn)] under its options
    (``uncertain`` says how it counted uncertain labels), as ``evaluate`` wrote them."""
    chosen = {key: [list(names).index(o) for o in subset] for key, subset in subsets.items()}
    tables: dict[str, Any] = {k: {"rows": [names[i] for i in v] + ["micro average", "macro average"],
                                  "systems": {}} for k, v in chosen.items()}
    for name, stats in counts.items():
        stats = np.asarray(stats, dtype=float)  # [n, observations, 3]
        total = stats.sum(axis=0)
        for key, rows in chosen.items():  # tp + fn: the reference's positives, the same for every system
            tables[key]["reference_positives"] = [int(total[i, 0] + total[i, 2]) for i in rows]
        boot = bootstrap_sums(stats, resamples, seed) if resamples else None
        for key, rows in chosen.items():
            value = _with_averages(total, rows, zero_division)
            if boot is None:
                low = high = value * np.nan
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # a measure with nothing to count in any resample
                    low, high = np.nanpercentile(_with_averages(boot, rows, zero_division), [2.5, 97.5], axis=0)
            tables[key]["systems"][name] = {
                measure: [_cell(value[r, k], low[r, k], high[r, k]) for r in range(len(rows) + 2)]
                for k, measure in enumerate(MEASURES)}
    return {"measures": list(MEASURES), "uncertain": uncertain, "resamples": resamples, "tables": tables}
