"""``chexpert-plus``: the CheXpert Plus CSV (``path_to_image``, ``section_findings``,
``section_impression``, ``section_clinical_history``, ``frontal_lateral``, ``split``). Frontal images
only by default; a listed .jpg that exists as .png (the PNG release) is found either way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from radzoo.data.labels import labels_from_mapping
from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import csv_rows
from radzoo.data.report_sections import STUDY_SECTIONS, study_sections
from radzoo.data.study import Study

OPTIONS = {
    "sections": ["section_findings"],  # the first is required; the others are appended when present
    "image_column": "path_to_image",
    "indication_columns": ["section_clinical_history", "section_history"],
    "frontal_only": True,
    "default_split": "train",
}
ALTERNATE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """One study per (frontal) image row."""
    o = source.options
    for line, row in csv_rows(source.path, (o["image_column"], o["sections"][0]), log=log):
        where = f"{source.path.name} line {line}"
        if o["frontal_only"] and row.get("frontal_lateral", "Frontal").strip().lower() != "frontal":
            log.filtered("not_frontal")
            continue
        if not (row.get(o["sections"][0]) or "").strip():
            log.problem(f"missing_{o['sections'][0]}", where, f"empty {o['sections'][0]}")
            continue
        report = " ".join(" ".join(row[c].split()) for c in o["sections"] if (row.get(c) or "").strip())
        indication = next((" ".join(row[c].split()) for c in o["indication_columns"] if (row.get(c) or "").strip()),
                          None)
        image = _existing_variant(source.resolve(row[o["image_column"]]))
        meta = {k: row[k] for k in ("deid_patient_id", "ap_pa", "section_impression") if row.get(k)}
        yield Study(id=row[o["image_column"]].strip(), image=str(image), report=report, indication=indication,
                    split=row.get("split") or o["default_split"], labels=labels_from_mapping(row, where), meta=meta,
                    sections=study_sections({**{n: row.get(f"section_{n}") for n in STUDY_SECTIONS},
                                             "indication": indication}))


def _existing_variant(path: Path) -> Path:
    """``path`` itself, or the same name with another image suffix when only that exists."""
    if path.is_file():
        return path
    for suffix in ALTERNATE_SUFFIXES:
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    return path
