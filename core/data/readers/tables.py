"""CSV and JSON file access shared by the readers (gzip-aware, errors naming file and row)."""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from radzoo.data.labels import labels_from_mapping
from radzoo.data.readers.result import SkipLog
from radzoo.errors import InputError, MissingFileError

# bytes that are not UTF-8 come through as lone surrogates (errors="surrogateescape"), one per byte
NOT_UTF8 = re.compile("[\udc80-\udcff]")
RESAVE_AS_UTF8 = "re-save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8 IN > OUT)"


def open_text(path: Path, errors: str = "strict") -> IO[str]:
    """A text handle on ``path``, decompressing ``.gz`` files."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors=errors, newline="")
    # -sig: Excel-written CSVs start with a BOM
    return open(path, encoding="utf-8-sig", errors=errors, newline="")


def not_utf8(row: dict[str, Any]) -> str | None:
    """Where a row holds bytes that are not UTF-8 ("byte 0x9c in column 'report'"), else None."""
    for column, value in row.items():
        found = NOT_UTF8.search(value) if isinstance(value, str) else None
        if found:
            return f"byte 0x{ord(found.group()) - 0xDC00:02x} in column {column!r}"
    return None


def csv_rows(path: Path, required: Sequence[str] = (), delimiter: str = ",", log: SkipLog | None = None,
             hint: str = "set the matching data.options") -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; a missing ``required`` column raises naming the columns there.

    A row that is not UTF-8 text is counted and skipped through ``log`` (without one it raises), so one stray
    byte cannot stop a whole data set.
    """
    if not path.is_file():
        raise MissingFileError(f"CSV file {path} does not exist")
    with open_text(path, errors="surrogateescape") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        columns = reader.fieldnames or []
        if not_utf8(dict.fromkeys(columns, "")) or any(NOT_UTF8.search(c) for c in columns):
            raise InputError(f"{path}: the header is not UTF-8 text; {RESAVE_AS_UTF8}")
        missing = [c for c in required if c not in columns]
        if missing:
            raise InputError(f"{path}: column(s) {', '.join(map(repr, missing))} not found; the file has "
                             f"{', '.join(map(repr, columns)) or 'no header'}; {hint}")
        for row in reader:
            bad = not_utf8(row)
            if bad is None:
                yield reader.line_num, row
                continue
            where, detail = f"{path.name} line {reader.line_num}", f"text is not UTF-8 ({bad}); {RESAVE_AS_UTF8}"
            if log is None:
                raise InputError(f"{path}: line {reader.line_num}: {detail}")
            log.problem("not_utf8", where, detail)


def load_json(path: Path) -> Any:
    """Parsed JSON with the file named in any error."""
    if not path.is_file():
        raise MissingFileError(f"JSON file {path} does not exist")
    try:
        with open_text(path) as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                         f"{RESAVE_AS_UTF8}") from None


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
            raise InputError(f"{where}: labels are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InputError(f"{where}: labels must be a JSON object, got {type(value).__name__}")
    chexpert = value.get("chexpert", value)
    return labels_from_mapping(chexpert, where), dict(value.get("truth") or {})
