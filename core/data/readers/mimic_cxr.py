"""``mimic-cxr``: the MIMIC-CXR-JPG layout (files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg) with the report text
files of MIMIC-CXR (files/pXX/pSUBJECT/sSTUDY.txt). One study per ``study_id``: its images with views from
the metadata CSV's ViewPosition, its report sections, and its prior (the subject's latest earlier study by
StudyDate/StudyTime). Splits come from the official split CSV, labels from the CheXpert CSV when present;
the report is the FINDINGS section (``sections`` adds IMPRESSION etc.). Images live under data.image_root
when set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from radzoo.data.labels import labels_from_mapping
from radzoo.data.priors import link_priors
from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import csv_rows
from radzoo.data.report_sections import split_sections, study_sections
from radzoo.data.study import Study, StudyImage, representative_frontal, view_of
from radzoo.errors import MissingFileError

OPTIONS = {
    "reports_root": None,  # folder with files/pXX/.../sSTUDY.txt (default: data.path)
    "metadata_file": "mimic-cxr-2.0.0-metadata.csv",
    "split_file": "mimic-cxr-2.0.0-split.csv",  # null: every study in default_split
    "labels_file": "mimic-cxr-2.0.0-chexpert.csv",  # used when present
    "views": ["PA", "AP", "LATERAL", "LL"],  # ViewPosition values kept in a study; empty list: all views
    "sections": ["findings"],  # the first is required; the others are appended when present
    "image_suffix": ".jpg",  # .dcm for the DICOM release
    "default_split": "train",
    "priors": True,  # link each study to the subject's latest earlier study (needs StudyDate)
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
    """One study per study_id with a frontal image, linked to its prior."""
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
    views = {v.upper() for v in o["views"]}
    groups: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for line, row in csv_rows(metadata, ("dicom_id", "subject_id", "study_id", "ViewPosition")):
        where = f"{metadata.name} line {line} (dicom {row['dicom_id']})"
        if views and row["ViewPosition"].strip().upper() not in views:
            log.filtered("view_not_selected")
            continue
        if o["split_file"] and row["dicom_id"] not in splits:
            log.problem("not_in_split_file", where, f"dicom_id missing from {o['split_file']}")
            continue
        groups.setdefault(row["study_id"], []).append((where, row))
    labels = _labels(root, o["labels_file"])
    studies = [study for study in (_study(source, log, rows, splits, labels) for rows in groups.values()) if study]
    if o["priors"]:
        link_priors(studies, lambda s: s.meta["subject_id"], lambda s: s.meta.get("study_time"))
    yield from studies


def _labels(root: Path, name: str | None) -> dict[str, dict[str, float]]:
    path = _table(root, name)
    if path is None:
        return {}
    return {row["study_id"]: labels_from_mapping(row, f"{path.name} line {line}")
            for line, row in csv_rows(path, ("study_id",))}


def _study(source: Source, log: SkipLog, rows: list[tuple[str, dict[str, str]]], splits: dict[str, str],
           labels: dict[str, dict[str, float]]) -> Study | None:
    """The study of these metadata rows (one per image), or None (counted) when it cannot be used."""
    o = source.options
    where, first = rows[0]
    subject, study_id = first["subject_id"], first["study_id"]
    folder = Path("files") / f"p{subject[:2]}" / f"p{subject}"
    images = [StudyImage(str(source.resolve(str(folder / f"s{study_id}" / f"{row['dicom_id']}{o['image_suffix']}"))),
                         view_of(row["ViewPosition"]), row["ViewPosition"].strip() or None) for _, row in rows]
    frontal = representative_frontal(images)
    if frontal is None:
        log.filtered("no_frontal_view")
        return None
    report_file = (Path(o["reports_root"]).expanduser() if o["reports_root"] else source.path) / folder / \
        f"s{study_id}.txt"
    if not report_file.is_file():
        log.problem("missing_report_file", where, f"{report_file} not found")
        return None
    sections = split_sections(report_file.read_text(encoding="utf-8", errors="replace"))
    primary = o["sections"][0]
    if not sections.get(primary):
        log.problem(f"missing_{primary}_section", where, f"report s{study_id}.txt has no {primary.upper()} section")
        return None
    dicom = Path(frontal.path).stem
    time = (first.get("StudyDate") or "").strip()
    study_time = (time, float((first.get("StudyTime") or "0").strip() or 0)) if time else None
    report = " ".join(sections[s] for s in o["sections"] if sections.get(s))
    return Study(id=study_id, image=frontal.path, report=report,
                 indication=sections.get("indication"), split=splits.get(dicom, o["default_split"]),
                 labels=dict(labels.get(study_id, {})), images=images,
                 sections=study_sections(sections),
                 meta={"subject_id": subject, "study_id": study_id, "view": frontal.position,
                       "impression": sections.get("impression"), "study_time": study_time})
