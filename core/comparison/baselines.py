"""Reference rows for a comparison: what a learned model has to beat.

- ``constant``: every study gets the same "normal study" report.
- ``nearest-neighbour``: copy the report of the training image closest in pixel space.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from radzoo.data.images import load_image
from radzoo.data.study import Study
from radzoo.errors import InputError

NORMAL_REPORT = ("The heart size is normal. The lungs are clear. No pleural effusion or pneumothorax. "
                 "No focal consolidation.")


def constant_predictions(studies: Sequence[Study], report: str = NORMAL_REPORT) -> list[str]:
    """The same report for every study."""
    return [report for _ in studies]


def _pixels(studies: Sequence[Study], size: int) -> np.ndarray:
    rows = []
    for study in studies:
        img = load_image(study.image).convert("L").resize((size, size))
        x = np.asarray(img, dtype=np.float32).ravel()
        x = (x - x.mean()) / (x.std() + 1e-6)  # contrast-normalised, so exposure differences do not dominate
        rows.append(x)
    return np.stack(rows) if rows else np.zeros((0, size * size), dtype=np.float32)


def nearest_neighbour_predictions(train: Sequence[Study], test: Sequence[Study], size: int = 32) -> list[str]:
    """For each test study, the report of the training study whose downsampled image is closest (L2)."""
    return [train[i].report or "" for i in nearest_neighbours(train, test, size)]


def nearest_neighbours(train: Sequence[Study], test: Sequence[Study], size: int = 32) -> list[int]:
    """For each test study, the index of the training study whose downsampled image is closest (L2)."""
    if not train:
        raise InputError("nearest-neighbour baseline needs training studies; the train split is empty")
    a, b = _pixels(train, size), _pixels(test, size)
    # squared L2 via the dot-product identity, in blocks to bound memory
    a_sq = (a * a).sum(1)
    picks = []
    for start in range(0, len(b), 256):
        block = b[start:start + 256]
        dist = a_sq[None, :] - 2.0 * block @ a.T
        picks.extend(dist.argmin(1).tolist())
    return picks
