"""A comparison folder's layout and its manifest, ``comparison.json``: which folder holds each row's predictions
(and per-sample statistics), what kind of row it is, and the data and split it was scored on.

Layout of OUT (``radzoo compare --out``):
    comparison.json          the manifest (written by compare; the viewer reads nothing else to find files)
    leaderboard.{md,csv,json}, evaluation.json, metrics.png, quality_vs_speed.png
    runs/<name>-<recipe hash>/    a recipe's run (radzoo.runs.layout); runs/<name>-run-<hash>/ a run:DIR row's
    baselines/<name>/        a reference row's predictions
    viewer/index.html        the HTML viewer
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import write_json_atomic

MANIFEST_FILE = "comparison.json"
LEADERBOARD_FILE = "leaderboard.json"
EVALUATION_FILE = "evaluation.json"
RUNS_DIR = "runs"
BASELINES_DIR = "baselines"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ManifestRow:
    """One leaderboard row: its name, kind (learned | baseline), folder and where its weights came from."""

    name: str
    kind: str
    folder: Path
    weights_from: str


@dataclass(frozen=True)
class Manifest:
    """What ``comparison.json`` holds: the rows in leaderboard order of scoring, the data section and the split."""

    out_dir: Path
    rows: list[ManifestRow]
    data: dict[str, Any]
    split: str
    task: str = "findings"  # what each test study was asked (radzoo.data.tasks)
    predictions: str = "predictions.jsonl"  # the file name of each row's predictions in its folder

    def row(self, name: str) -> ManifestRow:
        found = [r for r in self.rows if r.name == name]
        if not found:
            raise InputError(f"{self.out_dir / MANIFEST_FILE}: no row named {name!r}; rerun the comparison")
        return found[0]


def _stored(folder: Path, out_dir: Path) -> str:
    """A row folder as stored: relative to the manifest's folder (``runs/...``, or ``../runs/...`` from a task's
    ``OUT/<task>``), so the comparison folder can be moved; absolute on another drive."""
    try:
        return os.path.relpath(folder.resolve(), out_dir.resolve())
    except ValueError:  # no relative path between drives (Windows)
        return str(folder.resolve())


def write_manifest(out_dir: Path, rows: list[ManifestRow], data: Mapping[str, Any], split: str,
                   task: str = "findings", predictions: str = "predictions.jsonl") -> Path:
    """Write ``out_dir/comparison.json`` (atomically) and return its path."""
    payload = {"version": MANIFEST_VERSION, "data": dict(data), "split": split, "task": task,
               "predictions": predictions,
               "rows": [{"name": r.name, "kind": r.kind, "folder": _stored(r.folder, out_dir),
                         "weights_from": r.weights_from} for r in rows]}
    return write_json_atomic(out_dir / MANIFEST_FILE, payload, default=str)


def read_manifest(out_dir: str | Path) -> Manifest:
    """The manifest of the comparison in ``out_dir``; a one-line error when there is none."""
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST_FILE
    if not path.is_file():
        raise MissingFileError(f"{out_dir}: no {MANIFEST_FILE}; is it a `radzoo compare --out` folder? Run the "
                               "comparison (or `radzoo demo`; a rerun reuses what is done), then `radzoo view` it")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        rows = [ManifestRow(str(r["name"]), str(r["kind"]), out_dir / r["folder"], str(r.get("weights_from", "")))
                for r in payload["rows"]]
        return Manifest(out_dir, rows, dict(payload["data"]), str(payload["split"]),
                        str(payload.get("task", "findings")), str(payload.get("predictions", "predictions.jsonl")))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} cannot be read ({type(exc).__name__}: {exc}); rerun the comparison to write it "
                         "again") from None
