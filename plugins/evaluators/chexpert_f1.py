"""Clinical-efficacy F1 from CheXpert labels of prediction vs reference (radzoo's offline rule labeler).

A label counts as positive when it is 1, and -1 (uncertain) counts as positive or negative by the option
``uncertain``; blank and 0 are negative. Per sample the statistics are tp/fp/fn per observation under
BOTH policies, so every aggregate is exact on any resample. Metrics: micro and macro F1 over the 14
observations and over the 5 (Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion), for the
chosen policy (``chexpert_micro_f1_14`` ...) and for each policy by name
(``chexpert_micro_f1_14_uncertain_positive`` ...). An F1 with nothing to count (tp+fp+fn = 0) is
``zero_division`` (0.0 as scikit-learn's default; 1.0 to call it perfect).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from radzoo.data.labels import FIVE, OBSERVATIONS
from radzoo.errors import InputError
from radzoo.plugins.evaluators.chexpert_labeler import label_reports
from radzoo.plugins.evaluators.ngram_metrics import check_pairs

POLICIES = ("positive", "negative")
_FIVE_INDEX = np.array([OBSERVATIONS.index(o) for o in FIVE])


def _metric_names(prefix: str, suffix: str) -> list[str]:
    return [f"{prefix}_{avg}_f1_{subset}{suffix}" for subset in ("14", "5") for avg in ("micro", "macro")]


def binarize(labels: Sequence[Sequence[float | None]], uncertain: str) -> np.ndarray:
    """[n, 14] booleans: 1 is positive; -1 is positive only when ``uncertain == 'positive'``."""
    table = np.array([[np.nan if v is None else v for v in row] for row in labels], dtype=np.float64)
    table = table.reshape(-1, len(OBSERVATIONS))
    positive = table == 1.0
    return positive | (table == -1.0) if uncertain == "positive" else positive


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, zero_division: float) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, zero_division)


class CheXpertF1Evaluator:
    """F1 micro/macro over 14 and 5 CheXpert observations, uncertain policy explicit.

    Beside the evaluator protocol it gives each report's labels (``label_names``, ``sample_labels``) and the
    per-observation counts under its options (``finding_counts``), which the viewer shows; each distinct report
    is labelled once per evaluator.
    """

    name = "chexpert"
    version = "1"
    metric_prefix = "chexpert"  # a subclass with another labeler sets its own, so names never collide
    label_names = OBSERVATIONS

    def __init__(self, uncertain: str = "positive", zero_division: float = 0.0) -> None:
        if uncertain not in POLICIES:
            raise InputError(f"chexpert: option uncertain={uncertain!r} must be 'positive' or 'negative'")
        if float(zero_division) not in (0.0, 1.0):
            raise InputError(f"chexpert: option zero_division={zero_division!r} must be 0 or 1")
        self.uncertain = uncertain
        self.zero_division = float(zero_division)
        prefix = self.metric_prefix
        self.metric_names = tuple(_metric_names(prefix, "") + [n for p in POLICIES
                                                               for n in _metric_names(prefix, f"_uncertain_{p}")])
        self.higher_is_better = {m: True for m in self.metric_names}
        self._labelled: dict[str, list[float | None]] = {}

    def options(self) -> dict[str, Any]:
        return {"uncertain": self.uncertain, "zero_division": self.zero_division, "labeler": "radzoo-rules-1"}

    def label(self, reports: Sequence[str]) -> list[list[float | None]]:
        """The labeler this evaluator scores with: rows in ``label_names`` order (1.0 / 0.0 / -1.0 / None)."""
        return label_reports(reports)

    def sample_labels(self, reports: Sequence[str]) -> list[list[float | None]]:
        """Each report's labels (``label``), every distinct text labelled once for this evaluator."""
        new = [text for text in dict.fromkeys(reports) if text not in self._labelled]
        if new:
            self._labelled.update(zip(new, self.label(new), strict=True))
        return [self._labelled[text] for text in reports]

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 2 policies, 14 observations, (tp, fp, fn)] as float64."""
        check_pairs(predictions, references)
        pred_labels, ref_labels = self.sample_labels(predictions), self.sample_labels(references)
        per_policy = []
        for policy in POLICIES:
            pred, ref = binarize(pred_labels, policy), binarize(ref_labels, policy)
            per_policy.append(np.stack([pred & ref, pred & ~ref, ~pred & ref], axis=-1))
        return np.stack(per_policy, axis=1).astype(np.float64).reshape(len(predictions), 2, len(OBSERVATIONS), 3)

    def finding_counts(self, stats: np.ndarray) -> np.ndarray:
        """[n, 14, (tp, fp, fn)] under this evaluator's uncertain policy: the per-observation tables' counts."""
        return stats[:, POLICIES.index(self.uncertain)]

    def _scores(self, counts: np.ndarray) -> list[float]:
        """micro/macro F1 over 14 then 5 from summed [14, 3] counts."""
        out = []
        for subset in (slice(None), _FIVE_INDEX):
            tp, fp, fn = (counts[subset, k] for k in range(3))
            out.append(float(_f1(tp.sum(), fp.sum(), fn.sum(), self.zero_division)))
            out.append(float(np.mean(_f1(tp, fp, fn, self.zero_division))))
        return out

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        totals = chosen.sum(axis=0)  # [2, 14, 3]
        by_policy = {p: self._scores(totals[i]) for i, p in enumerate(POLICIES)}
        values = by_policy[self.uncertain] + by_policy["positive"] + by_policy["negative"]
        return dict(zip(self.metric_names, values))
