"""``chexpert-plus``: the CheXpert Plus CSV (``path_to_image``, ``section_findings``,
``section_impression``, ``section_clinical_history``, ``frontal_lateral``, ``ap_pa``, ``split``). One study per
study folder (train/patientN/studyM/): its frontal and lateral images, and its prior (the same patient's
latest earlier study, by ``patient_report_date_order`` or else the study number). A listed .jpg that exists
as .png (the PNG release) is found either way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from radzoo.data.labels import labels_from_mapping
from radzoo.data.priors import link_priors
from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import csv_rows
from radzoo.data.report_sections import STUDY_SECTIONS, study_sections
from radzoo.data.study import Study, StudyImage, representative_frontal, view_of

OPTIONS = {
    "sections": ["section_findings"],  # the first is required; the others are appended when present
    "image_column": "path_to_image",
    "indication_columns": ["section_clinical_history", "section_history"],
    "frontal_only": False,  # true: leave the lateral images out of each study
    "default_split": "train",
    "priors": True,  # link each study to the patient's latest earlier study
}
ALTERNATE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """One study per study folder with a frontal image, linked to its prior."""
    o = source.options
    groups: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for line, row in csv_rows(source.path, (o["image_column"], o["sections"][0]), log=log):
        lateral = row.get("frontal_lateral", "Frontal").strip().lower() == "lateral"
        if o["frontal_only"] and lateral:
            log.filtered("not_frontal")
            continue
        study_key = str(PurePosixPath(row[o["image_column"]].strip()).parent)
        groups.setdefault(study_key, []).append((f"{source.path.name} line {line}", row))
    studies = [s for s in (_study(source, log, key, rows) for key, rows in groups.items()) if s is not None]
    if o["priors"]:
        link_priors(studies, lambda s: s.meta.get("patient"), lambda s: s.meta.get("order"))
    yield from studies


def _study(source: Source, log: SkipLog, key: str, rows: list[tuple[str, dict[str, str]]]) -> Study | None:
    o = source.options
    images = []
    for _, row in rows:
        position = (row.get("ap_pa") or "").strip() or None
        view = view_of(position) if position and row.get("frontal_lateral", "Frontal").lower() != "lateral" else \
            view_of(row.get("frontal_lateral", "Frontal"))
        images.append(StudyImage(str(_existing_variant(source.resolve(row[o["image_column"]]))), view, position))
    frontal = representative_frontal(images)
    if frontal is None:
        log.filtered("no_frontal_view")
        return None
    where, row = rows[[i.path for i in images].index(frontal.path)]
    if not (row.get(o["sections"][0]) or "").strip():
        log.problem(f"missing_{o['sections'][0]}", where, f"empty {o['sections'][0]}")
        return None
    report = " ".join(" ".join(row[c].split()) for c in o["sections"] if (row.get(c) or "").strip())
    indication = next((" ".join(row[c].split()) for c in o["indication_columns"] if (row.get(c) or "").strip()),
                      None)
    sections = study_sections({**{n: row.get(f"section_{n}") for n in STUDY_SECTIONS}, "indication": indication})
    meta = {k: row[k] for k in ("deid_patient_id", "ap_pa", "section_impression") if row.get(k)}
    parts = PurePosixPath(key).parts
    meta["patient"] = row.get("deid_patient_id") or (parts[-2] if len(parts) >= 2 else None)
    order = (row.get("patient_report_date_order") or "").strip()
    number = re.search(r"(\d+)$", parts[-1]) if parts else None
    meta["order"] = float(order) if order else (int(number.group(1)) if number else None)
    return Study(id=key, image=frontal.path, report=report, indication=indication,
                 split=row.get("split") or o["default_split"], labels=labels_from_mapping(row, where), meta=meta,
                 images=images, sections=sections)


def _existing_variant(path: Path) -> Path:
    """``path`` itself, or the same name with another image suffix when only that exists."""
    if path.is_file():
        return path
    for suffix in ALTERNATE_SUFFIXES:
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    return path
