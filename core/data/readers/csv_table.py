"""``csv``: any CSV with image path column(s), a report column and optional indication, id, split and
label columns (names set in data.options). Label columns: a JSON column (``labels_column``) or columns
named after the CheXpert observations. Optional ``image_lateral``, ``prior_image`` and ``prior_report``
columns give the study's lateral image and its prior study."""

from __future__ import annotations

from collections.abc import Iterator

from radzoo.data.images import dicom_view_position
from radzoo.data.labels import labels_from_mapping
from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import csv_rows, labels_and_truth
from radzoo.data.study import Study, StudyImage, view_of

OPTIONS = {
    "image_column": "image",  # or a list of columns: one study per non-empty image cell
    "report_column": "report",
    "indication_column": "indication",  # optional: used when the column exists
    "id_column": "id",  # optional: row number otherwise
    "split_column": "split",  # optional: default_split otherwise
    "labels_column": "labels_json",  # optional JSON labels column
    "lateral_column": "image_lateral",  # optional: the study's lateral image
    "prior_image_column": "prior_image",  # optional: the prior study's frontal image
    "prior_report_column": "prior_report",  # optional: the prior study's report
    "default_split": "train",
    "delimiter": ",",
}


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """One study per row and image column."""
    o = source.options
    image_columns = [o["image_column"]] if isinstance(o["image_column"], str) else list(o["image_column"])
    required = image_columns + ([o["report_column"]] if o["require_report"] else [])
    hint = "name the file's columns with data.options.image_column and data.options.report_column"
    for line, row in csv_rows(source.path, required, o["delimiter"], log, hint):
        where = f"{source.path.name} line {line}"
        base_id = (row.get(o["id_column"]) or "").strip() or f"row{line}"
        labels, truth = labels_and_truth(row.get(o["labels_column"]), where)
        labels = {**labels_from_mapping(row, where), **labels}
        images = [(c, (row.get(c) or "").strip()) for c in image_columns]
        if not any(path for _, path in images):
            log.problem("missing_image_path", where, f"no image path in column(s) {', '.join(image_columns)}")
            continue
        for column, image in images:
            if not image:
                continue
            study_id = base_id if len(image_columns) == 1 else f"{base_id}/{column}"
            split = (row.get(o["split_column"]) or "").strip() or o["default_split"]
            yield Study(
                id=study_id, image=str(source.resolve(image)), report=(row.get(o["report_column"]) or "").strip(),
                indication=(row.get(o["indication_column"]) or "").strip() or None,
                split=split, labels=dict(labels), meta={"source": where, **({"truth": truth} if truth else {})},
                images=_images(source, row, image), prior=_prior(source, row, study_id, split),
            )


def _images(source: Source, row: dict[str, str], frontal: str) -> list[StudyImage]:
    """The frontal image and the row's lateral image, when it has one; a DICOM file's ViewPosition tag gives
    its position (and its view when the tag names one)."""
    lateral = (row.get(source.options["lateral_column"]) or "").strip()
    images = []
    for path, role in ((frontal, "frontal"), (lateral, "lateral")):
        if path:
            position = dicom_view_position(source.resolve(path))
            view = view_of(position) if position and view_of(position) != "other" else role
            images.append(StudyImage(str(source.resolve(path)), view, position))
    return images if len(images) > 1 or images[0].position else []


def _prior(source: Source, row: dict[str, str], study_id: str, split: str) -> Study | None:
    """The prior study (in the study's split) from the row's prior image and report columns (either may be
    alone)."""
    image = (row.get(source.options["prior_image_column"]) or "").strip()
    report = (row.get(source.options["prior_report_column"]) or "").strip()
    if not image and not report:
        return None
    # image "": a prior report without its image
    return Study(id=f"{study_id}/prior", image=str(source.resolve(image)) if image else "", report=report or None,
                 split=split)
