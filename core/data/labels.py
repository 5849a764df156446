"""CheXpert observation names: the 14 labels every reader and the synthetic set use."""

from __future__ import annotations

from radzoo.errors import InputError

# The CheXpert/CheXbert 14 observations, in the order of the CheXpert paper's label table.
CHEXPERT_OBSERVATIONS: tuple[str, ...] = (
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
    "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
    "Support Devices", "No Finding",
)

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
