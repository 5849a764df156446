"""``iu-xray``: IU X-ray (OpenI) in either layout.

- R2Gen's ``annotation.json`` — {"train": [{id, report, image_path: [...], split}], "val": [...], "test": [...]},
  images under ``image_root`` (default: the ``images`` folder beside it);
- the OpenI report folder (``data.path`` = ``ecgen-radiology/`` with one XML per report: AbstractText
  FINDINGS / IMPRESSION / INDICATION and ``parentImage`` ids), PNGs ``<id>.png`` under ``image_root``
  (default: ``NLMCXR_png`` beside the folder). OpenI has no official split: every study gets default_split.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import load_json
from radzoo.data.study import Study, StudyImage
from radzoo.errors import InputError, MissingFileError

IU_VIEWS = ("frontal", "lateral")  # the views of a case's first and second image
OPTIONS = {
    # "study": one study per case, its images read as frontal then lateral (IU X-ray records no view; R2Gen's
    # annotation lists the frontal image first); "first": the first image only; "all": one study per image
    "images": "study",
    "sections": ["findings"],  # OpenI XML: the first is required, the others appended when present
    "default_split": "train",  # OpenI XML
}


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """One study per case with its images (or per image with images: all)."""
    if source.options["images"] not in ("study", "first", "all"):
        raise InputError(f"data.options.images must be 'study', 'first' or 'all', got "
                         f"{source.options['images']!r}")
    if source.path.is_dir():
        yield from _read_openi(source, log)
        return
    data = load_json(source.path)
    if not isinstance(data, dict):
        raise InputError(f"{source.path}: expected an object with train/val/test lists (R2Gen annotation.json)")
    # R2Gen keeps images in images/ beside annotation.json; an explicit image_root wins
    root = source.image_root
    if root == source.path.parent and (root / "images").is_dir():
        root = root / "images"
    for split_key, records in data.items():
        if not isinstance(records, list):
            continue
        for index, record in enumerate(records):
            case = str(record.get("id", f"{split_key}{index}"))
            where = f"{source.path.name} {split_key}[{index}] (id {case})"
            paths = record.get("image_path") or []
            yield from _studies(source, log, where, case, [root / p for p in ([paths] if isinstance(paths, str)
                                                                                else paths)],
                                " ".join(str(record.get("report") or "").split()), None,
                                record.get("split") or split_key)


def _read_openi(source: Source, log: SkipLog) -> Iterator[Study]:
    root = source.image_root
    if root == source.path and (source.path.parent / "NLMCXR_png").is_dir():
        root = source.path.parent / "NLMCXR_png"
    files = sorted(source.path.glob("*.xml"))
    if not files:
        raise MissingFileError(f"{source.path} holds no OpenI report XML files (*.xml)")
    sections = source.options["sections"]
    for path in files:
        try:
            tree = ET.parse(path)
        except ET.ParseError as exc:
            log.problem("malformed_xml", path.name, str(exc))
            continue
        texts = {(el.get("Label") or "").lower(): " ".join((el.text or "").split())
                 for el in tree.iter("AbstractText")}
        if not texts.get(sections[0]):
            log.problem(f"missing_{sections[0]}_section", path.name, f"no {sections[0].upper()} text")
            continue
        report = " ".join(texts[s] for s in sections if texts.get(s))
        images = [root / f"{el.get('id')}.png" for el in tree.iter("parentImage") if el.get("id")]
        yield from _studies(source, log, path.name, path.stem, images, report, texts.get("indication") or None,
                            source.options["default_split"])


def _studies(source: Source, log: SkipLog, where: str, case: str, images: list, report: str,
             indication: str | None, split: str) -> Iterator[Study]:
    """The case's study (all its images, or the first) or studies (one per image)."""
    if not images:
        log.problem("missing_image_path", where, "the case lists no images")
        return
    if source.options["images"] == "study":
        views = [StudyImage(str(image), IU_VIEWS[n] if n < len(IU_VIEWS) else "other")
                 for n, image in enumerate(images)]
        yield Study(id=case, image=str(images[0]), report=report, indication=indication, split=split,
                    meta={"case": case}, images=views,
                    sections={"findings": report, **({"indication": indication} if indication else {})})
        return
    chosen = images[:1] if source.options["images"] == "first" else images
    for n, image in enumerate(chosen):
        yield Study(id=case if len(chosen) == 1 else f"{case}/{n}", image=str(image), report=report,
                    indication=indication, split=split, meta={"case": case})
