"""Label reports with radzoo's rule-based CheXpert labeler (14 observations: 1.0 / 0.0 / -1.0 / blank).

Input: a CSV with a `report` column, or one report per row without a header.
Example: radzoo label data/synthetic/reports.csv --out labels.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import atomic_target

LABELER = "chexpert"  # the registered evaluator whose labels (label_names, sample_labels) are written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", help="CSV with a 'report' column, or one report per row and no header")
    parser.add_argument("--out", required=True, help="labels CSV to write")


def read_reports(path: Path) -> tuple[list[str], list[list[str]], int]:
    """(header, rows, index of the report column) of the input CSV."""
    if not path.is_file():
        raise MissingFileError(f"reports file {path} does not exist")
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.reader(stream))
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); re-save the "
                         "file as UTF-8 (e.g. iconv -f cp1252 -t utf-8 IN > OUT)") from None
    if not rows:
        raise InputError(f"{path}: empty file; expected a 'report' column or one report per row")
    lowered = [c.strip().lower() for c in rows[0]]
    if "report" in lowered:
        return rows[0], rows[1:], lowered.index("report")
    if len(rows[0]) != 1:
        raise InputError(f"{path}: no 'report' column in the header {rows[0]}; add one, or give a single "
                         "column with one report per row")
    return ["Reports"], rows, 0


def run(args: argparse.Namespace) -> int:
    # start-up time: radzoo --help imports every command
    from radzoo.evaluation.pipeline import create_evaluator

    path = Path(args.reports)
    header, rows, column = read_reports(path)
    for number, row in enumerate(rows, start=2 if header != ["Reports"] else 1):
        if len(row) <= column:
            raise InputError(f"{path}: row {number} has no report (only {len(row)} column(s))")
    labeler = create_evaluator(LABELER)  # through the registry: a plugin may replace the built-in labeler
    labels = labeler.sample_labels([row[column] for row in rows])
    out = Path(args.out)
    # renamed over --out when complete: never a torn labels file
    with atomic_target(out) as partial, partial.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([*header, *labeler.label_names])
        for row, values in zip(rows, labels):
            writer.writerow([*row, *("" if v is None else f"{v:.1f}" for v in values)])
    print(f"labelled {len(rows)} reports -> {out}")
    return 0
