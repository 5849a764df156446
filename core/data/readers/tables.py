"""CSV and JSON file access shared by the readers (gzip-aware, errors naming file and row)."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from radzoo.data.labels import labels_from_mapping


def open_text(path: Path) -> IO[str]:
    """A text handle on ``path``, decompressing ``.gz`` files."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # -sig: Excel-written CSVs start with a BOM


def csv_rows(path: Path, required: Sequence[str] = (), delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; a missing ``required`` column raises naming the columns there."""
    if not path.is_file():
        raise FileNotFoundError(f"CSV file {path} does not exist")
    with open_text(path) as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        columns = reader.fieldnames or []
        missing = [c for c in required if c not in columns]
        if missing:
            raise ValueError(f"{path}: column(s) {', '.join(map(repr, missing))} not found; the file has "
                             f"{', '.join(map(repr, columns)) or 'no header'}; set the matching data.options")
        for row in reader:
            yield reader.line_num, row


def load_json(path: Path) -> Any:
    """Parsed JSON with the file named in any error."""
    if not path.is_file():
        raise FileNotFoundError(f"JSON file {path} does not exist")
    try:
        with open_text(path) as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None


def labels_and_truth(value: Any, where: str) -> tuple[dict[str, float], dict[str, Any]]:
    """CheXpert labels and structured ground truth from a labels JSON cell or object.

    Accepts {"chexpert": {...}, "truth": {...}} (what the synthetic set writes) or a flat
    observation -> label mapping.
    """
    if value in (None, ""):
        return {}, {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: labels are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: labels must be a JSON object, got {type(value).__name__}")
    chexpert = value.get("chexpert", value)
    return labels_from_mapping(chexpert, where), dict(value.get("truth") or {})
