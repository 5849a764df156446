"""What a finished comparison left on disk, read back for the viewer: leaderboard, predictions, test studies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radzoo.data.readers import read_studies
from radzoo.data.study import Study
from radzoo.errors import InputError, MissingFileError
from radzoo.files.jsonl import read_records

LEADERBOARD_FILE = "leaderboard.json"
EVALUATION_FILE = "evaluation.json"
PREDICTIONS_FILE = "predictions.jsonl"  # the name comparison_runs writes in every run and baseline folder


@dataclass
class Comparison:
    """The leaderboard payload, each row's predictions by study id, the evaluation settings, the test studies."""

    out_dir: Path
    board: dict[str, Any]
    predictions: dict[str, dict[str, str]]
    evaluation: dict[str, Any]
    studies: list[Study]


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _predictions_file(out_dir: Path, row: dict[str, Any]) -> Path | None:
    """The row's predictions: baselines/<name>/, else the runs/<name>-<hash>/ (or, for a ``run:DIR`` row,
    runs/<name>-run-<hash>/) scored last (a changed recipe leaves its older run folder behind; the leaderboard
    was scored on the latest)."""
    if row.get("kind") != "learned":
        path = out_dir / "baselines" / row["name"] / PREDICTIONS_FILE
        return path if path.is_file() else None
    runs = [p for p in (out_dir / "runs").glob(f"{row['name']}-*/{PREDICTIONS_FILE}")
            if p.parent.name[len(row["name"]) + 1:].removeprefix("run-").isalnum()]

    def scored_at(path: Path) -> float:  # compare writes metrics.json into each run it scores
        metrics = path.parent / "metrics.json"
        return (metrics if metrics.is_file() else path).stat().st_mtime

    return max(runs, key=scored_at) if runs else None


def read_predictions(path: Path) -> dict[str, str]:
    """study id -> predicted report of one predictions.jsonl."""
    return {str(r["id"]): str(r.get("prediction") or "") for r in read_records(path)}


def test_studies(out_dir: Path) -> list[Study]:
    """The test split the comparison scored, read again through the data section of one of its run recipes."""
    import yaml

    recipes = sorted((out_dir / "runs").glob("*/recipe.yaml"))
    if not recipes:
        raise MissingFileError(f"{out_dir}: no runs/*/recipe.yaml to find the comparison's test studies; "
                               f"run `radzoo compare ... --out {out_dir}` first")
    data = yaml.safe_load(recipes[0].read_text(encoding="utf-8"))["data"]
    return read_studies(data, split="test").studies


def read_comparison(out_dir: str | Path, studies: list[Study] | None = None) -> Comparison:
    """Read ``out_dir``'s leaderboard and every row's predictions; ``studies`` default to its test split."""
    out_dir = Path(out_dir)
    board_path = out_dir / LEADERBOARD_FILE
    if not board_path.is_file():
        raise MissingFileError(f"{out_dir}: no {LEADERBOARD_FILE}; is it a `radzoo compare --out` folder? "
                               "Run the comparison (or `radzoo demo`) first, then `radzoo view` it")
    board = _read_json(board_path)
    studies = test_studies(out_dir) if studies is None else list(studies)
    predictions = {}
    for row in board["rows"]:
        path = _predictions_file(out_dir, row)
        if path is None:
            raise MissingFileError(f"{out_dir}: no {PREDICTIONS_FILE} for leaderboard row {row['name']!r}; "
                                   "rerun the comparison to finish it")
        found = read_predictions(path)
        missing = [s.id for s in studies if str(s.id) not in found]
        if missing:
            raise InputError(f"{path}: no prediction for {len(missing)} of the {len(studies)} test studies "
                             f"(first: {missing[0]}); rerun the comparison to finish its generation")
        predictions[row["name"]] = found
    evaluation = _read_json(out_dir / EVALUATION_FILE) if (out_dir / EVALUATION_FILE).is_file() else {}
    return Comparison(out_dir, board, predictions, evaluation, studies)
