"""A study: its images with their views, its report sections and its prior study; what every reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# the views a model can ask for; a reader maps the data set's own codes (PA, AP, LATERAL, LL, ...) onto these
VIEWS = ("frontal", "lateral", "other")


@dataclass
class StudyImage:
    """One image of a study: its file and its view (``frontal``, ``lateral`` or ``other``)."""

    path: str  # a PNG/JPEG/DICOM file
    view: str = "frontal"
    position: str | None = None  # the data set's own view code (PA, AP, LATERAL, LL, ...), when it has one


@dataclass
class Study:
    """One study with its report. ``labels`` maps CheXpert observation -> 1.0 / 0.0 / -1.0 when known.

    ``image`` is the frontal image a one-image model reads; ``images`` lists every image of the study in order
    (empty: ``image`` alone). ``sections`` holds the report sections the source has (indication, technique,
    comparison, findings, impression); ``prior`` is the same patient's most recent earlier study, if known.
    """

    id: str
    image: str  # path to a PNG/JPEG/DICOM file
    report: str | None = None  # the findings text used as the target (None at inference)
    indication: str | None = None
    split: str = "train"  # train, validate, test
    labels: dict[str, float] = field(default_factory=dict)
    # per-reader extras: view position, synthetic ground truth (sides, severities), ...
    meta: dict[str, Any] = field(default_factory=dict)
    images: list[StudyImage] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    prior: Study | None = None

    def all_images(self) -> list[StudyImage]:
        """Every image of the study in order; a one-image study gives its ``image`` as the frontal view."""
        return list(self.images) if self.images else [StudyImage(self.image)]


# the data sets' view codes (MIMIC-CXR/DICOM ViewPosition, CheXpert Plus frontal_lateral) -> a view
FRONTAL_POSITIONS = {"PA", "AP", "FRONTAL", "AP AXIAL", "PA LLD", "AP LLD", "AP RLD", "PA RLD"}
LATERAL_POSITIONS = {"LATERAL", "LL", "RL", "LAT", "LAO", "RAO", "LPO", "RPO", "SWIMMERS", "XTABLE LATERAL"}
# the representative frontal image: PA (standing, the better projection) before AP, then the first listed
FRONTAL_PREFERENCE = ("PA", "AP")


def view_of(position: str | None) -> str:
    """``frontal``, ``lateral`` or ``other`` for a data set's view code (PA, AP, LATERAL, LL, ...)."""
    code = " ".join(str(position or "").upper().replace("_", " ").split())
    if code in FRONTAL_POSITIONS:
        return "frontal"
    if code in LATERAL_POSITIONS:
        return "lateral"
    return "other"


def representative_frontal(images: list[StudyImage]) -> StudyImage | None:
    """The frontal image a one-image model reads: a PA view, else an AP view, else the first frontal (in the
    study's order); None when the study has no frontal image."""
    frontal = [image for image in images if image.view == "frontal"]
    for code in FRONTAL_PREFERENCE:
        found = next((image for image in frontal if (image.position or "").upper() == code), None)
        if found is not None:
            return found
    return frontal[0] if frontal else None


def images_of_view(study: Study, view: str) -> list[StudyImage]:
    """The study's images of one view (``frontal`` starts with the representative one)."""
    images = study.all_images()
    chosen = [image for image in images if image.view == view]
    if view == "frontal":
        first = next((image for image in chosen if image.path == study.image), None)
        if first is not None:
            chosen = [first] + [image for image in chosen if image is not first]
    return chosen
