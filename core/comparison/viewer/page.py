"""Assemble the viewer page: the comparison's summary and study index as embedded JSON inside one HTML file with
its CSS and JS; the report texts and image paths go to shard scripts next to it, loaded a page at a time."""

from __future__ import annotations

import base64
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from radzoo.comparison.viewer.comparison_files import Comparison, read_comparison
from radzoo.comparison.viewer.finding_tables import finding_tables
from radzoo.comparison.viewer.grounding_boxes import grounding_by_row
from radzoo.comparison.viewer.study_images import write_study_images
from radzoo.comparison.viewer.study_records import study_records
from radzoo.comparison.viewer.study_shards import SHARD_SIZE, shard_name, write_study_shards
from radzoo.data.study import Study
from radzoo.files.atomic import write_text_atomic
from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS

VIEWER_DIR = "viewer"
VIEWER_FILE = "index.html"
PLOTS = {"metrics": ("metrics.png", "Bar chart: each system's value of the plotted metrics with 95% CI whiskers; "
                     "blue bars are learned recipes, grey bars reference rows"),
         "speed": ("quality_vs_speed.png", "Scatter plot: headline metric against reports generated per second")}
SCRIPTS = ("common.js", "leaderboard.js", "findings.js", "studies.js")
PAGE_SIZE = 50  # study cards per page: a 3,858-study test set renders 50 at a time


def _asset(name: str) -> str:
    return resources.files("radzoo.comparison.viewer").joinpath(name).read_text(encoding="utf-8")


def _plot(path: Path) -> str | None:
    """A plot as a data URI, so the page carries it (the PNGs are tens of kB)."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() if path.is_file() else None


def _origin(row: dict[str, Any]) -> str:
    """Where the row's weights came from: the leaderboard's weights-origin field where it has one."""
    for key in ("weights_from", "weights_origin"):
        if row.get(key):
            return str(row[key])
    return str(row.get("encoder_trained_on") or "–")


def _evaluation_settings(comparison: Comparison) -> tuple[dict[str, Any], int, int]:
    """(evaluator options, bootstrap resamples, seed) the comparison used, read from evaluation.json."""
    result = next(iter(comparison.evaluation.values()), {})
    options = {name: e.get("options", {}) for name, e in result.get("evaluators", {}).items()}
    boot = result.get("bootstrap", {})
    return options, int(boot.get("resamples", 1000)), int(boot.get("seed", 0))


def page_data(comparison: Comparison) -> dict[str, Any]:
    """Everything the page shows, as one JSON-ready dict (``studies`` still holding the texts the shards take)."""
    board = comparison.board
    options, resamples, seed = _evaluation_settings(comparison)
    studies = comparison.studies
    ids, references = [str(s.id) for s in studies], [s.report or "" for s in studies]
    names = [row["name"] for row in board["rows"]]
    reports = {name: [comparison.predictions[name][i] for i in ids] for name in names}
    rows = [{"name": r["name"], "kind": r["kind"], "description": r.get("description", ""), "origin": _origin(r),
             "metrics": {m: [c["value"], c["ci_low"], c["ci_high"], c["p_vs_best"], c["higher_is_better"]]
                         for m, c in r["metrics"].items() if m in board["metrics"]},
             "efficiency": r.get("efficiency", {})} for r in board["rows"]]
    chexpert = options.get("chexpert", {})
    return {
        "context": board.get("context", {}), "headline": board["headline"], "metrics": board["metrics"],
        "best": board.get("best", {}), "rows": rows,
        "plots": {key: {"src": _plot(comparison.out_dir / file), "alt": alt} for key, (file, alt) in PLOTS.items()},
        "findings": finding_tables(reports, references, uncertain=str(chexpert.get("uncertain", "positive")),
                                   zero_division=float(chexpert.get("zero_division", 0.0)), resamples=resamples,
                                   seed=seed),
        "studies": study_records(ids, references, reports, board["metrics"], options),
        "page_size": PAGE_SIZE, "observations": list(OBSERVATIONS),
    }


def _finite(value: Any) -> Any:
    """``value`` with every NaN as None: JSON has no NaN, and the page shows None as "–"."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def render(data: dict[str, Any]) -> str:
    """The HTML page with ``data`` embedded (``</`` escaped so no report text can close the script element)."""
    payload = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    script = "\n".join(_asset(name) for name in SCRIPTS)
    # the data goes in last, so that no report text is ever taken for a placeholder
    return (_asset("page.html").replace("/*STYLE*/", _asset("viewer.css")).replace("/*SCRIPT*/", script)
            .replace("/*DATA*/", payload.replace("</", "<\\/")))


def build_viewer(out_dir: str | Path, studies: list[Study] | None = None) -> Path:
    """(Re)write ``out_dir/viewer/index.html`` (and its images) from a finished comparison; returns the page.

    ``studies``: the test studies compare scored (read again from a run's recipe when not given).
    """
    comparison = read_comparison(out_dir, studies)
    viewer_dir = Path(out_dir) / VIEWER_DIR
    images = write_study_images(comparison.studies, viewer_dir)
    data = page_data(comparison)
    index = data["studies"]
    # the page keeps what filters and sorts read; texts and images load a page at a time from the shards
    texts = {name: system.pop("texts") for name, system in index["systems"].items()}
    grounding = grounding_by_row(comparison, index["ids"])  # grounded rows' boxes, beside their reports
    shards = write_study_shards(viewer_dir, index["reference"].pop("texts"), texts, images, SHARD_SIZE, grounding)
    index.update(shard_size=SHARD_SIZE, shards=shards, shard_pattern=shard_name(0))
    return write_text_atomic(viewer_dir / VIEWER_FILE, render(data))
