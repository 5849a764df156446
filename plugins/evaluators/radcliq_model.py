"""RadCliQ-v1's published linear model (Yu et al. 2023): the normaliser and coefficients stored in
rajpurkarlab/CXR-Report-Metric's ``CXRMetric/radcliq-v1.pkl`` (the same values are in RadEval's
``RadCliQv1/radcliq.py``), over four per-report components in this order."""

from __future__ import annotations

import numpy as np

COMPONENTS = ("radgraph_combined", "bertscore", "semb_score", "bleu_score")
MEAN = np.array([0.53792312, 0.61757256, 0.76479421, 0.44738335])
SCALE = np.array([0.30282584, 0.22430938, 0.25394391, 0.29892717])
COEFFICIENTS = np.array([-3.77083683e-01, -3.70300100e-01, -2.52616218e-01, 4.31504841e-12])
INTERCEPT = 2.46655256e-10
BERTSCORE_LAYER = 5  # bert-score's default layer for distilroberta-base


def radcliq_v1(components: np.ndarray) -> np.ndarray:
    """[n] RadCliQ-v1 scores (lower is better) from [n, 4] components in COMPONENTS order."""
    return ((np.asarray(components, dtype=np.float64) - MEAN) / SCALE) @ COEFFICIENTS + INTERCEPT
