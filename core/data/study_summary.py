"""A study as plain data (what ``radzoo data show`` prints) and a data set's study/view/prior counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from radzoo.data.study import VIEWS, Study


def study_record(study: Study) -> dict[str, Any]:
    """The study's id, split, images (path, view, position), report, sections, labels and prior."""
    record: dict[str, Any] = {
        "id": study.id, "split": study.split, "image": study.image,
        "images": [{"path": i.path, "view": i.view, "position": i.position} for i in study.all_images()],
        "report": study.report, "indication": study.indication, "sections": dict(study.sections),
        "labels": dict(study.labels), "prior": None,
    }
    if study.prior is not None:
        prior = study_record(study.prior)
        record["prior"] = {key: prior[key] for key in ("id", "split", "image", "images", "report", "sections")}
    return record


def study_counts(studies: list[Study]) -> dict[str, Any]:
    """Studies, images per view, studies with a lateral image and studies with a prior."""
    views: Counter = Counter({view: 0 for view in VIEWS})
    for study in studies:
        views.update(image.view for image in study.all_images())
    return {"studies": len(studies), "images": sum(views.values()), "images_per_view": dict(views),
            "with_lateral": sum(any(i.view == "lateral" for i in s.all_images()) for s in studies),
            "with_prior": sum(s.prior is not None for s in studies)}
