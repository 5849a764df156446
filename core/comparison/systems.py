"""One row of a comparison: train (or reuse) a recipe's run, generate on the test split, note its costs.

Every phase leaves its result in the run directory (weights, predictions JSONL, efficiency.json), so a
rerun skips what is done and resumes what was interrupted. A given run directory (``run:DIR``: an
imported, exported or earlier run) is never trained: its predictions go to a folder of the comparison's
own. Baseline rows are computed here too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from radzoo.comparison.baselines import constant_predictions, nearest_neighbour_predictions
from radzoo.comparison.peak_memory import PeakMemory
from radzoo.comparison.scoring import SystemOutput
from radzoo.comparison.task_rows import constant_answers, neighbour_answers, task_file
from radzoo.data.study import Study
from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import write_json_atomic, write_text_atomic
from radzoo.files.jsonl import read_records
from radzoo.recipe.load import load_recipe, recipe_hash
from radzoo.training.encoder_pretraining import trained_on

log = logging.getLogger(__name__)

BASELINES = ("constant", "nearest-neighbour")
EFFICIENCY_FILE = "efficiency.json"
PREDICTIONS_FILE = "predictions.jsonl"
PROVENANCE_FILE = "provenance.json"  # written by `radzoo import`
RUN_PREFIX = "run:"


@dataclass
class RunSource:
    """A finished model directory compared as it is: its resolved recipe and where its weights came from."""

    path: Path
    recipe: DictConfig
    weights_from: str


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_dir_of(cfg: DictConfig, runs_dir: Path) -> Path:
    """``runs_dir/<name>-<recipe hash>``: a changed recipe gets a fresh directory, an unchanged one is reused."""
    return runs_dir / f"{cfg.name}-{recipe_hash(cfg)}"


def encoder_note(cfg: DictConfig) -> str:
    """What the recipe's encoder was trained on, for the leaderboard's "encoder trained on" column."""
    path = cfg.encoder.args.get("path")
    start = (trained_on(path) or f"weights from {Path(str(path)).name}") if path else None
    own = any(s.task == "labels" and {"encoder", "encoder_head"} & set(s.trainable) for s in cfg.stages)
    if own:
        return f"{start} + its own label stage" if start else "CXR labels (its own label stage)"
    if start:
        return start
    if str(cfg.encoder.name).startswith("tiny-"):
        return "nothing (random init)"
    return f"{cfg.encoder.name} release weights"


def _train_or_reuse(cfg: DictConfig, run_dir: Path) -> None:
    """Train unless this exact recipe already finished in ``run_dir``; resume an interrupted run."""
    from radzoo.runs.store import WEIGHTS_FILE  # torch: only once a row trains, so input errors show at once
    from radzoo.training.checkpoints import has_checkpoint
    from radzoo.training.pipeline import SUMMARY_FILE, train

    summary = _read_json(run_dir / SUMMARY_FILE)
    if (run_dir / WEIGHTS_FILE).is_file() and summary and not summary.get("stopped_early"):
        log.info(f"{cfg.name}: reusing the finished run {run_dir}")
        return
    resume = has_checkpoint(run_dir)
    log.info(f"{cfg.name}: training ({'resuming' if resume else 'from scratch'}) -> {run_dir}")
    efficiency = _read_json(run_dir / EFFICIENCY_FILE)
    memory, began = PeakMemory(), time.perf_counter()
    try:
        with memory:
            train(cfg, run_dir, resume=resume)
    finally:
        # an interrupted attempt's time counts too: train s is the run's wall time over all attempts
        efficiency["train_time_s"] = efficiency.get("train_time_s", 0.0) + time.perf_counter() - began
        efficiency["train_peak_memory_mb"] = max(efficiency.get("train_peak_memory_mb", 0.0), memory.peak_mb)
        efficiency["memory_kind"] = memory.device
        write_json_atomic(run_dir / EFFICIENCY_FILE, efficiency, default=str)


def weights_origin(run_dir: Path) -> str:
    """Where a given run directory's weights came from, for the leaderboard's "weights from" column."""
    from radzoo.generation.pipeline import EXPORT_MARKER  # torch: reading a run's provenance needs none

    provenance = _read_json(run_dir / PROVENANCE_FILE)
    if provenance:
        source = provenance.get("source")
        details = [str(provenance[k]) for k in ("format", "repo") if provenance.get(k)]
        if not provenance.get("repo") and isinstance(source, str):
            details.append(f"from {source}")
        return " ".join(["imported", *details])
    export = _read_json(run_dir / EXPORT_MARKER)
    if export:
        return f"exported from {export.get('source_run', 'a run')}"
    return f"reused run {run_dir}"


def read_run_source(spec: str) -> RunSource:
    """``run:DIR`` -> the run directory, its recipe and the origin of its weights; a clear error otherwise."""
    from radzoo.runs.store import RECIPE_FILE  # torch: checking a run:DIR needs none

    path = Path(spec[len(RUN_PREFIX):]).expanduser()
    if not (path / RECIPE_FILE).is_file():
        hint = (" (a transformers LLaVA directory: `radzoo import llava-hf` it first)"
                if (path / "config.json").is_file() else "")
        raise MissingFileError(f"{spec}: {path} is not a radzoo run directory (no {RECIPE_FILE}){hint}; pass a "
                               "directory written by radzoo train, import or export")
    return RunSource(path, load_recipe(path / RECIPE_FILE), weights_origin(path))


def _model_figures(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Parameter counts (total, and trained by any stage) and image tokens of the run's model."""
    from radzoo.generation.pipeline import load_model  # torch: only once a row's model loads

    model, _ = load_model(run_dir)
    trained = {id(p) for s in cfg.stages for part in s.trainable for _, p in model.part_parameters(part)}
    figures = {"params_total": sum(p.numel() for p in model.parameters()),
               "params_trainable": sum(p.numel() for p in model.parameters() if id(p) in trained),
               "image_tokens": model.image_tokens()}
    del model
    return figures


def _generate(run_dir: Path, out: Path, studies: Sequence[Study], batch_size: int | None) -> dict[str, Any]:
    """Generate the missing predictions; returns throughput and peak memory of the generation that ran."""
    from radzoo.generation.pipeline import generate  # torch: only once a row generates

    began = time.perf_counter()
    with PeakMemory() as memory:
        result = generate(run_dir, out=out, studies=studies, batch_size=batch_size)
    seconds = time.perf_counter() - began
    if not result.generated:
        return {}
    return {"reports_per_s": result.generated / seconds, "generate_peak_memory_mb": memory.peak_mb}


def _predictions(path: Path) -> dict[str, str]:
    return {str(r["id"]): r["prediction"] for r in read_records(path)} if path.is_file() else {}


def run_recipe(cfg: DictConfig, runs_dir: Path, test: Sequence[Study],
               batch_size: int | None = None, task: str = "findings") -> SystemOutput:
    """Train/reuse, generate on ``test`` (studies of ``task``) and collect the efficiency figures of one recipe."""
    run_dir = run_dir_of(cfg, runs_dir)
    _train_or_reuse(cfg, run_dir)
    return _scored_run(cfg, run_dir, run_dir, test, batch_size, "trained here", task=task)


def run_given(source: RunSource, name: str, runs_dir: Path, test: Sequence[Study],
              batch_size: int | None = None, task: str = "findings") -> SystemOutput:
    """A given run directory, never trained: generate on ``test`` into ``runs_dir/<name>-run-<path hash>``."""
    digest = hashlib.sha256(str(source.path.resolve()).encode()).hexdigest()[:10]
    log.info(f"{name}: {source.weights_from}, not trained here")
    return _scored_run(source.recipe, source.path, runs_dir / f"{name}-run-{digest}", test, batch_size,
                       source.weights_from, name, task)


def _scored_run(cfg: DictConfig, model_dir: Path, folder: Path, test: Sequence[Study], batch_size: int | None,
                weights_from: str, name: str | None = None, task: str = "findings") -> SystemOutput:
    """Generate ``model_dir``'s missing test answers of ``task`` into ``folder`` and collect its row."""
    name = name or str(cfg.name)
    # another task's generation figures go to its own file: the findings row keeps its reports/s
    own = folder / task_file(EFFICIENCY_FILE, task)
    efficiency = {**_read_json(folder / EFFICIENCY_FILE), **_read_json(own)}
    if "params_total" not in efficiency:
        efficiency.update(_model_figures(cfg, model_dir))
    predictions = folder / task_file(PREDICTIONS_FILE, task)
    todo = len(test) - len(set(_predictions(predictions)) & {str(s.id) for s in test})
    if todo:
        log.info(f"{name}: generating {todo} of {len(test)} test {'reports' if task == 'findings' else task}")
        efficiency.update(_generate(model_dir, predictions, test, batch_size))
    write_json_atomic(own, efficiency, default=str)
    peaks = [efficiency.get(k) for k in ("train_peak_memory_mb", "generate_peak_memory_mb")]
    row = {key: efficiency.get(key) for key in ("params_total", "params_trainable", "image_tokens",
                                                "train_time_s", "reports_per_s")}
    row["peak_memory_mb"] = max((p for p in peaks if p is not None), default=None)
    return SystemOutput(name, "learned", _predictions(predictions), str(cfg.description),
                        encoder_note(cfg), row, folder, weights_from)


def run_baselines(train: Sequence[Study], test: Sequence[Study], names: Sequence[str],
                  out_dir: Path, task: str = "findings") -> list[SystemOutput]:
    """The reference rows (a constant normal report; nearest-neighbour report retrieval), each in its folder."""
    outputs = []
    findings = task == "findings"
    for name in names:
        began = time.perf_counter()
        if name == "constant":
            # nothing is generated: no speed to report
            preds, speed = constant_predictions(test) if findings else constant_answers(test, task), None
            desc, note = "the same normal-study report for every image", "– (no image model)"
        elif name == "nearest-neighbour":
            log.info(f"{name}: retrieving the closest training image's report for {len(test)} test studies")
            preds = nearest_neighbour_predictions(train, test) if findings else neighbour_answers(train, test, task)
            speed = len(test) / max(time.perf_counter() - began, 1e-9)
            desc, note = "report of the closest training image (32 px, L2)", "– (raw pixels)"
        else:
            raise InputError(f"unknown baseline {name!r}; baselines are {', '.join(BASELINES)}")
        folder = out_dir / "baselines" / name  # recomputed on every run: cheap, and always this test split
        records = [{"id": s.id, "prediction": p, "reference": s.report, "model": name}
                   for s, p in zip(test, preds, strict=True)]
        write_text_atomic(folder / task_file(PREDICTIONS_FILE, task),
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        outputs.append(SystemOutput(name, "baseline", {str(s.id): p for s, p in zip(test, preds, strict=True)},
                                    desc, note, {"reports_per_s": speed}, folder, "– (no weights)"))
    return outputs
