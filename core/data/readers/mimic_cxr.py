"""``mimic-cxr``: the MIMIC-CXR-JPG layout (files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg) with the report text
files of MIMIC-CXR (files/pXX/pSUBJECT/sSTUDY.txt). Frontal views come from the metadata CSV's
ViewPosition, splits from the official split CSV, labels from the CheXpert CSV when present; the report
is the FINDINGS section (``sections`` adds IMPRESSION etc.). Images live under data.image_root when set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from radzoo.data.labels import labels_from_mapping
from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import csv_rows
from radzoo.data.report_sections import split_sections, study_sections
from radzoo.data.study import Study
from radzoo.errors import MissingFileError

OPTIONS = {
    "reports_root": None,  # folder with files/pXX/.../sSTUDY.txt (default: data.path)
    "metadata_file": "mimic-cxr-2.0.0-metadata.csv",
    "split_file": "mimic-cxr-2.0.0-split.csv",  # null: every study in default_split
    "labels_file": "mimic-cxr-2.0.0-chexpert.csv",  # used when present
    "views": ["PA", "AP"],  # ViewPosition values kept; empty list: all views
    "sections": ["findings"],  # the first is required; the others are appended when present
    "image_suffix": ".jpg",  # .dcm for the DICOM release
    "default_split": "train",
}


def _table(root: Path, name: str | None) -> Path | None:
    """``root/name`` or its .gz twin (None when neither exists)."""
    if not name:
        return None
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """One study per frontal image in the metadata CSV."""
    o, root = source.options, source.path
    metadata = _table(root, o["metadata_file"])
    if metadata is None:
        raise MissingFileError(f"{root}: metadata CSV {o['metadata_file']} (or .gz) not found; point data.path "
                                "at the MIMIC-CXR-JPG root or set data.options.metadata_file")
    splits: dict[str, str] = {}
    if o["split_file"]:
        split_path = _table(root, o["split_file"])
        if split_path is None:
            raise MissingFileError(f"{root}: split CSV {o['split_file']} (or .gz) not found; set "
                                    "data.options.split_file (null puts every study in default_split)")
        splits = {row["dicom_id"]: row["split"] for _, row in csv_rows(split_path, ("dicom_id", "split"))}
    labels: dict[str, dict[str, float]] = {}
    labels_path = _table(root, o["labels_file"])
    if labels_path is not None:
        for line, row in csv_rows(labels_path, ("study_id",)):
            labels[row["study_id"]] = labels_from_mapping(row, f"{labels_path.name} line {line}")
    reports_root = Path(o["reports_root"]).expanduser() if o["reports_root"] else root
    views = {v.upper() for v in o["views"]}
    reports: dict[str, dict[str, str] | None] = {}
    for line, row in csv_rows(metadata, ("dicom_id", "subject_id", "study_id", "ViewPosition")):
        if views and row["ViewPosition"].strip().upper() not in views:
            log.filtered("view_not_selected")
            continue
        dicom, subject, study = row["dicom_id"], row["subject_id"], row["study_id"]
        where = f"{metadata.name} line {line} (dicom {dicom})"
        folder = Path("files") / f"p{subject[:2]}" / f"p{subject}"
        if o["split_file"] and dicom not in splits:
            log.problem("not_in_split_file", where, f"dicom_id missing from {o['split_file']}")
            continue
        if study not in reports:
            report_file = reports_root / folder / f"s{study}.txt"
            reports[study] = split_sections(report_file.read_text(encoding="utf-8", errors="replace")) \
                if report_file.is_file() else None
        sections = reports[study]
        if sections is None:
            log.problem("missing_report_file", where, f"{reports_root / folder / f's{study}.txt'} not found")
            continue
        primary = o["sections"][0]
        if not sections.get(primary):
            log.problem(f"missing_{primary}_section", where, f"report s{study}.txt has no {primary.upper()} section")
            continue
        text = " ".join(sections[name] for name in o["sections"] if sections.get(name))
        image = source.resolve(str(folder / f"s{study}" / f"{dicom}{o['image_suffix']}"))
        yield Study(id=dicom, image=str(image), report=text,
                    indication=sections.get("indication"), split=splits.get(dicom, o["default_split"]),
                    labels=dict(labels.get(study, {})),
                    meta={"subject_id": subject, "study_id": study, "view": row["ViewPosition"],
                          "impression": sections.get("impression")}, sections=study_sections(sections))
