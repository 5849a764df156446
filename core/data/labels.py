"""The CheXpert vocabulary, written once: the 14 observation names, the 5 most reported, and the label values.

Two orders of the same names are in use, both taken from outside tools: the CheXpert paper's and the
chexpert-labeler's (``OBSERVATIONS``: what radzoo's labeler, the F1 evaluators, ``radzoo label`` and the viewer
list), and CheXbert's output heads' (``CHEXPERT_OBSERVATIONS``: No Finding last; the readers' label columns and
the training label head, so encoder heads trained before stay loadable).
"""

from __future__ import annotations

from radzoo.errors import InputError

# The 14 observations in the order of the CheXpert paper's label table (Irvin et al. 2019, table 1), which is
# also the chexpert-labeler's labeled_reports.csv header.
OBSERVATIONS: tuple[str, ...] = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
)
# CheXbert's head order (its src/constants.py CONDITIONS): the same names, No Finding last, Lung Opacity first
CHEXBERT_ORDER = (1, 2, 4, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0)
CHEXPERT_OBSERVATIONS: tuple[str, ...] = tuple(OBSERVATIONS[i] for i in CHEXBERT_ORDER)
# the five observations most CXR report-generation papers report F1 on
FIVE: tuple[str, ...] = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")

POSITIVE, NEGATIVE, UNCERTAIN = 1.0, 0.0, -1.0


def parse_label(value: object, where: str) -> float | None:
    """A CheXpert label cell as 1.0 / 0.0 / -1.0, or None when blank (not mentioned)."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "" or text.lower() in ("nan", "none", "null"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{where}: label {value!r} is not a number; use 1, 0, -1 or leave it blank") from None
    if number != number:  # NaN
        return None
    if number not in (POSITIVE, NEGATIVE, UNCERTAIN):
        raise InputError(f"{where}: label {value!r} must be 1 (positive), 0 (negative) or -1 (uncertain)")
    return number


def labels_from_mapping(row: dict[str, object], where: str) -> dict[str, float]:
    """The CheXpert labels found under their observation names in ``row`` (blank cells left out)."""
    labels = {}
    for name in CHEXPERT_OBSERVATIONS:
        if name in row:
            value = parse_label(row[name], f"{where}, column {name!r}")
            if value is not None:
                labels[name] = value
    return labels
