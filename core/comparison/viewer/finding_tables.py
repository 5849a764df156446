"""Per-finding tables: F1, precision and recall per system and CheXpert observation with bootstrap 95% CIs."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from radzoo.plugins.evaluators.chexpert_f1 import FIVE, POLICIES, CheXpertF1Evaluator
from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS

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


def finding_tables(predictions: Mapping[str, Sequence[str]], references: Sequence[str], *, uncertain: str,
                   zero_division: float, resamples: int, seed: int) -> dict[str, Any]:
    """For the 14 and the 5 observations: rows (observations, then micro and macro averages) x systems x
    measures, each [value, ci_low, ci_high], and how many studies' references are positive for each
    observation; uncertain labels count as ``uncertain`` says (as on the leaderboard)."""
    evaluator = CheXpertF1Evaluator(uncertain=uncertain, zero_division=zero_division)
    policy = POLICIES.index(uncertain)
    n = len(references)
    rng = np.random.default_rng(seed)
    # one resample = how often each study is drawn; counts over a resample are then a matrix product
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)]).astype(float)
    subsets = {"14": list(range(len(OBSERVATIONS))), "5": [OBSERVATIONS.index(o) for o in FIVE]}
    tables: dict[str, Any] = {k: {"rows": [OBSERVATIONS[i] for i in v] + ["micro average", "macro average"],
                                  "systems": {}} for k, v in subsets.items()}
    for name, reports in predictions.items():
        stats = evaluator.sample_stats(list(reports), list(references))[:, policy]  # [n, 14, 3]
        total = stats.sum(axis=0)
        for key, rows in subsets.items():  # tp + fn: the reference's positives, the same for every system
            tables[key]["reference_positives"] = [int(total[i, 0] + total[i, 2]) for i in rows]
        boot = (weights @ stats.reshape(n, -1)).reshape(resamples, len(OBSERVATIONS), 3)
        for key, rows in subsets.items():
            value, spread = _with_averages(total, rows, zero_division), _with_averages(boot, rows, zero_division)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a measure with nothing to count in any resample
                low, high = np.nanpercentile(spread, [2.5, 97.5], axis=0) if resamples else (value * np.nan,) * 2
            tables[key]["systems"][name] = {
                measure: [_cell(value[r, k], low[r, k], high[r, k]) for r in range(len(rows) + 2)]
                for k, measure in enumerate(MEASURES)}
    return {"measures": list(MEASURES), "uncertain": uncertain, "resamples": resamples, "tables": tables}
