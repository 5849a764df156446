"""What a finished comparison left on disk, read back for the viewer through its manifest (comparison.json):
the leaderboard, each row's predictions, the evaluation settings and the test studies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radzoo.comparison.layout import EVALUATION_FILE, LEADERBOARD_FILE, Manifest, read_manifest
from radzoo.data.readers import read_studies
from radzoo.data.study import Study
from radzoo.errors import InputError, MissingFileError
from radzoo.files.jsonl import read_records


@dataclass
class Comparison:
    """The leaderboard payload, each row's predictions by study id, the evaluation settings, the test studies."""

    out_dir: Path
    board: dict[str, Any]
    predictions: dict[str, dict[str, str]]
    evaluation: dict[str, Any]
    studies: list[Study]
    manifest: Manifest


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def row_predictions(path: Path) -> dict[str, str]:
    """study id -> predicted report of one row's predictions.jsonl."""
    return {str(r["id"]): str(r.get("prediction") or "") for r in read_records(path)}


def read_comparison(out_dir: str | Path, studies: list[Study] | None = None) -> Comparison:
    """Read ``out_dir``'s manifest, leaderboard and every row's predictions; ``studies`` default to the split the
    manifest names."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    board_path = out_dir / LEADERBOARD_FILE
    if not board_path.is_file():
        raise MissingFileError(f"{out_dir}: no {LEADERBOARD_FILE}; rerun the comparison to finish it")
    board = _read_json(board_path)
    studies = read_studies(manifest.data, split=manifest.split).studies if studies is None else list(studies)
    predictions = {}
    for row in board["rows"]:
        path = manifest.row(row["name"]).folder / manifest.predictions
        if not path.is_file():
            raise MissingFileError(f"{path}: no predictions for leaderboard row {row['name']!r}; rerun the "
                                   "comparison to finish it")
        found = row_predictions(path)
        missing = [s.id for s in studies if str(s.id) not in found]
        if missing:
            raise InputError(f"{path}: no prediction for {len(missing)} of the {len(studies)} test studies "
                             f"(first: {missing[0]}); rerun the comparison to finish its generation")
        predictions[row["name"]] = found
    evaluation = _read_json(out_dir / EVALUATION_FILE) if (out_dir / EVALUATION_FILE).is_file() else {}
    return Comparison(out_dir, board, predictions, evaluation, studies, manifest)
