"""Each test study's image as files next to the page: a small thumbnail and a larger view opened on click."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from radzoo.data.images import load_image
from radzoo.data.study import Study
from radzoo.files.atomic import atomic_target

THUMB_PX = 160  # longest side of the thumbnail in the card
FULL_PX = 1024  # longest side of the image opened on click: enough to read a CXR, small enough for thousands
IMAGE_DIR = "images"


def _stem(index: int, study_id: str) -> str:
    """A file name that is safe whatever the study id holds, and changes when the id does."""
    return f"{index:05d}-{hashlib.sha1(study_id.encode()).hexdigest()[:8]}"


def write_study_images(studies: Sequence[Study], viewer_dir: Path) -> list[dict[str, str]]:
    """Write (or keep, when already written) each study's thumbnail and full view under ``viewer_dir/images``;
    returns per study the two paths relative to the page. A small image serves as its own thumbnail."""
    folder = viewer_dir / IMAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index, study in enumerate(studies):
        stem = _stem(index, str(study.id))
        full, thumb = folder / f"{stem}.png", folder / f"{stem}-thumb.jpg"
        if not full.is_file():
            image = load_image(study.image)
            small = max(image.size) <= THUMB_PX
            image.thumbnail((FULL_PX, FULL_PX))
            if not small:  # the thumbnail first: a kill between the two leaves no full view, so both are redone
                thumbnail = image.copy()
                thumbnail.thumbnail((THUMB_PX, THUMB_PX))
                with atomic_target(thumb) as tmp:
                    thumbnail.convert("L").save(tmp, format="JPEG", quality=80)
            with atomic_target(full) as tmp:
                image.save(tmp, format="PNG", optimize=True)
        names = {"full": f"{IMAGE_DIR}/{full.name}"}
        names["thumb"] = f"{IMAGE_DIR}/{thumb.name}" if thumb.is_file() else names["full"]
        out.append(names)
    return out
