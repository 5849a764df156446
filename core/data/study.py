"""A study: one image with its report, what every reader yields and every later step consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Study:
    """One image-report pair. ``labels`` maps CheXpert observation -> 1.0 / 0.0 / -1.0 when known."""

    id: str
    image: str  # path to a PNG/JPEG/DICOM file
    report: str | None = None  # the findings text used as the target (None at inference)
    indication: str | None = None
    split: str = "train"  # train, validate, test
    labels: dict[str, float] = field(default_factory=dict)
    # per-reader extras: impression, view position, synthetic ground truth (sides, severities), ...
    meta: dict[str, Any] = field(default_factory=dict)
