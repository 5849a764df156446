"""Each test study's images as files next to the page: per image a small thumbnail and a larger view opened on
click, labelled by view (frontal, lateral, prior frontal), with the study's prior report and the frontal image's
original size (grounded boxes are in its pixels)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from radzoo.data.images import is_dicom, load_image
from radzoo.data.study import Study, images_of_view

THUMB_PX = 160  # longest side of the thumbnail in the card
FULL_PX = 1024  # longest side of the image opened on click: enough to read a CXR, small enough for thousands
IMAGE_DIR = "images"


def _stem(index: int, study_id: str) -> str:
    """A file name that is safe whatever the study id holds, and changes when the id does."""
    return f"{index:05d}-{hashlib.sha1(study_id.encode()).hexdigest()[:8]}"


def _write(source: str, folder: Path, stem: str) -> dict[str, str]:
    """Write (or keep, when already written) one image's full view and thumbnail; paths relative to the page.
    A small image serves as its own thumbnail."""
    full, thumb = folder / f"{stem}.png", folder / f"{stem}-thumb.jpg"
    if not full.is_file():
        image = load_image(source)
        small = max(image.size) <= THUMB_PX
        image.thumbnail((FULL_PX, FULL_PX))
        tmp = full.with_suffix(".tmp.png")
        image.save(tmp, optimize=True)
        tmp.replace(full)
        if not small:
            image.thumbnail((THUMB_PX, THUMB_PX))
            image.convert("L").save(thumb, quality=80)
    names = {"full": f"{IMAGE_DIR}/{full.name}"}
    names["thumb"] = f"{IMAGE_DIR}/{thumb.name}" if thumb.is_file() else names["full"]
    return names


def _size(path: str) -> list[int]:
    """The image's width and height in its own pixels (a raster file's header is enough)."""
    if is_dicom(Path(path)):
        return list(load_image(path).size)
    with Image.open(path) as image:
        return list(image.size)


def _views(study: Study) -> list[tuple[str, str, str]]:
    """(role, label, path) of each image to show: the study's frontal first, its others, the prior's frontal."""
    frontal = images_of_view(study, "frontal")
    shown = [("frontal", f"frontal{f' ({i.position})' if i.position else ''}", i.path) for i in frontal[:1]]
    for image in study.all_images():
        if image.path != study.image:
            shown.append((image.view, f"{image.view}{f' ({image.position})' if image.position else ''}", image.path))
    if study.prior is not None and study.prior.image:
        shown.append(("prior_frontal", f"prior frontal ({study.prior.id})", study.prior.image))
    return shown


def write_study_images(studies: Sequence[Study], viewer_dir: Path) -> list[dict[str, Any]]:
    """Per study: ``full``/``thumb`` of the representative frontal image (as before), ``views`` (every image
    with its role and label), ``size`` (the frontal's width and height) and ``prior`` (id and report, or None)."""
    folder = viewer_dir / IMAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index, study in enumerate(studies):
        stem = _stem(index, str(study.id))
        views = []
        for n, (role, label, path) in enumerate(_views(study)):
            views.append({"role": role, "label": label, **_write(path, folder, stem if n == 0 else f"{stem}-{n}")})
        prior = None if study.prior is None else {"id": str(study.prior.id), "report": study.prior.report or ""}
        out.append({"full": views[0]["full"], "thumb": views[0]["thumb"], "views": views,
                    "size": _size(study.image), "prior": prior})
    return out
