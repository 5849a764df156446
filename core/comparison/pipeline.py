"""compare: train (or reuse), generate and evaluate several recipes on one test split; write a leaderboard.

Beside recipes it takes finished run directories written ``run:DIR`` (imported, exported or earlier runs):
they are scored on the same split and metrics and never trained; each row says where its weights came from.

OUT/runs/<name>-<recipe hash>/ holds each recipe's run (resolved recipe, checkpoints, weights,
predictions.jsonl, metrics.json, efficiency.json); OUT/baselines/<name>/ the reference rows;
OUT/leaderboard.{md,csv,json}, OUT/metrics.png, OUT/quality_vs_speed.png and the HTML viewer
OUT/viewer/index.html the result (``task``: findings; another task's leaderboard and plots go to OUT/<task>/,
its predictions beside the findings ones: radzoo.comparison.task_rows). Every phase
leaves its result on disk, so rerunning an interrupted comparison resumes it, and a recipe whose resolved
hash matches a finished run is not trained again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from radzoo.comparison.leaderboard import LeaderboardRow, best_rows, write_leaderboard
from radzoo.comparison.plots import plot_metric_bars, plot_quality_vs_speed
from radzoo.comparison.scoring import SystemOutput, score_systems
from radzoo.comparison.systems import (
    BASELINES,
    RUN_PREFIX,
    RunSource,
    read_run_source,
    run_baselines,
    run_given,
    run_recipe,
)
from radzoo.comparison.task_rows import HEADLINES, METRICS, references, task_file, task_folder
from radzoo.comparison.viewer import build_viewer
from radzoo.data.readers import read_studies
from radzoo.data.tasks import canonical_task, task_studies
from radzoo.errors import InputError
from radzoo.evaluation.pipeline import DEFAULT_METRICS
from radzoo.files.atomic import write_json_atomic
from radzoo.recipe.load import apply_overrides, load_recipe

log = logging.getLogger(__name__)

DEFAULT_HEADLINE = "chexpert_micro_f1_14"
# plotted after the headline when computed: the 14-label table has the most columns, these say the most
PLOTTED = ("chexpert_micro_f1_5", "bleu_4", "rouge_l", "cider")
PAIRED_RESAMPLES = 1000


@dataclass
class ComparisonResult:
    """The leaderboard rows (ranked), the files written and the headline metric."""

    out_dir: Path
    rows: list[LeaderboardRow]
    files: dict[str, Path]
    headline: str


def is_run_source(item: str | Path | DictConfig) -> bool:
    """Whether a compare item names a finished run directory (``run:DIR``) rather than a recipe."""
    return isinstance(item, (str, Path)) and str(item).startswith(RUN_PREFIX)


def run_row_names(runs: Sequence[RunSource], taken: Sequence[str]) -> list[str]:
    """Each run's row name: its recipe's name, or ``name@DIR`` where that name is already a row's."""
    names: list[str] = []
    for run in runs:
        name = str(run.recipe.name)
        if name in taken or name in names or name in BASELINES:
            name = f"{name}@{run.path.name}"
        if name in taken or name in names:
            raise InputError(f"{RUN_PREFIX}{run.path}: a second row named {name!r}; compare each run directory once")
        names.append(name)
    return names


def resolve_recipes(recipes: Sequence[str | Path | DictConfig], overrides: Sequence[str],
                    allow_none: bool = False) -> list[DictConfig]:
    """Load each recipe with the shared overrides; they must have distinct names and read the same data."""
    cfgs = [apply_overrides(r.copy(), list(overrides)) if isinstance(r, DictConfig) else
            load_recipe(r, list(overrides)) for r in recipes]
    if not cfgs and not allow_none:
        raise InputError("compare needs at least one recipe")
    names = [str(c.name) for c in cfgs]
    clash = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(BASELINES)))
    if clash:
        raise InputError(f"recipe name(s) {', '.join(clash)} appear twice or name a baseline; every leaderboard "
                         "row needs its own name: pass name=... in a copy of the recipe")
    for cfg in cfgs[1:]:
        if cfg.data != cfgs[0].data:
            raise InputError(f"recipe {cfg.name!r} reads other data than {cfgs[0].name!r}; a comparison needs one "
                             "data set: pass --data FORMAT:PATH (or data.format=... data.path=... overrides)")
    return cfgs


def _rank(rows: list[LeaderboardRow], headline: str) -> None:
    """Learned rows first, then the reference rows; each group best-first on the headline."""
    def key(row: LeaderboardRow) -> tuple[int, float]:
        cell = row.metrics.get(headline)
        value = 0.0 if cell is None or cell.value != cell.value else cell.value
        return (row.kind != "learned", -value if (cell is None or cell.higher_is_better) else value)

    rows.sort(key=key)


def _write_outputs(systems: Sequence[SystemOutput], rows: list[LeaderboardRow], results: Mapping[str, Any],
                   headline: str, out_dir: Path, context: dict[str, Any], task: str = "findings") -> dict[str, Path]:
    for system in systems:
        if system.folder is not None:
            write_json_atomic(system.folder / task_file("metrics.json", task), results[system.name], default=str)
    metric_names = list(rows[0].metrics)
    if headline not in metric_names:
        raise InputError(f"headline metric {headline!r} is not among the computed metrics: {', '.join(metric_names)}")
    shown = [m for m in metric_names if "_uncertain_" not in m]  # the policy-named duplicates stay in the JSON
    # a per-finding column no test question asked about is NaN in every row: it stays in the JSON only
    shown = [m for m in shown if any(r.metrics[m].value == r.metrics[m].value for r in rows)]
    files = write_leaderboard(rows, shown, headline, out_dir, context)
    plotted = [headline] + [m for m in PLOTTED if m in shown and m != headline]
    files["metrics_png"] = plot_metric_bars(rows, plotted, out_dir / "metrics.png")
    files["speed_png"] = plot_quality_vs_speed(rows, headline, out_dir / "quality_vs_speed.png")
    write_json_atomic(out_dir / "evaluation.json", results, default=str)
    files["evaluation"] = out_dir / "evaluation.json"
    return files


def compare(recipes: Sequence[str | Path | DictConfig], out_dir: str | Path, *, overrides: Sequence[str] = (),
            metrics: Sequence[str] | None = None, metric_options: Mapping[str, Mapping[str, Any]] | None = None,
            baselines: Sequence[str] = BASELINES, headline: str = DEFAULT_HEADLINE, bootstrap: int | None = None,
            seed: int = 0, batch_size: int | None = None, task: str = "findings",
            not_computed: Mapping[str, str] | None = None) -> ComparisonResult:
    """Train (or reuse), generate and evaluate each recipe on the test split of their shared data, add the
    reference rows, and write the leaderboard, plots and per-run folders under ``out_dir`` (see module doc).

    ``metrics``/``metric_options``/``bootstrap`` default to the first recipe's ``evaluation`` section;
    ``task`` (findings, impression, vqa) is what each test study is asked (vqa: the vqa evaluator by default).
    """
    task = canonical_task(task, "compare --task")
    headline = HEADLINES.get(task, headline) if headline == DEFAULT_HEADLINE else headline
    runs = [read_run_source(str(r)) for r in recipes if is_run_source(r)]
    cfgs = resolve_recipes([r for r in recipes if not is_run_source(r)], overrides, allow_none=bool(runs))
    run_names = run_row_names(runs, [str(c.name) for c in cfgs])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise InputError(f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    # runs are scored on the recipes' data; with runs alone, on the first run's (after --data / overrides)
    first = cfgs[0] if cfgs else apply_overrides(runs[0].recipe.copy(), list(overrides))
    data = first.data
    test = task_studies(read_studies(data, split="test").studies, task)
    if not test:
        raise InputError(f"the data set ({data.format}: {data.path or 'default'}) has no test-split studies"
                         + ("" if task == "findings" else f" with what task {task!r} needs (impression, labels)")
                         + "; a comparison scores every recipe on the test split")
    # the needs of the reference rows are checked before any row trains or generates
    train = read_studies(data, split="train").studies if "nearest-neighbour" in baselines else []
    if "nearest-neighbour" in baselines and not train:
        log.warning(f"nearest-neighbour: left out, the data set ({data.format}: {data.path or 'default'}) has no "
                    "train-split studies to retrieve reports from")
        baselines = [b for b in baselines if b != "nearest-neighbour"]
    learned = len(cfgs) + len(runs)
    steps = learned + (1 if baselines else 0) + 1
    systems = []
    for i, cfg in enumerate(cfgs, 1):
        log.info(f"[{i}/{steps}] {cfg.name}")
        systems.append(run_recipe(cfg, out_dir / "runs", test, batch_size, task))
    for i, (run, name) in enumerate(zip(runs, run_names, strict=True), len(cfgs) + 1):
        log.info(f"[{i}/{steps}] {name} ({RUN_PREFIX}{run.path})")
        systems.append(run_given(run, name, out_dir / "runs", test, batch_size, task))
    if baselines:
        log.info(f"[{learned + 1}/{steps}] reference rows: {', '.join(baselines)}")
        systems += run_baselines(train, test, baselines, out_dir, task)
    evaluation = first.evaluation
    metrics = list(metrics or METRICS.get(task) or evaluation.metrics or DEFAULT_METRICS)
    options = metric_options if metric_options is not None else dict(evaluation.options or {})
    resamples = int(bootstrap if bootstrap is not None else evaluation.bootstrap_samples)
    log.info(f"[{steps}/{steps}] scoring {len(systems)} systems on {len(test)} test studies: {', '.join(metrics)}")
    rows, results = score_systems(systems, [str(s.id) for s in test], references(test, task), metrics,
                                  options, bootstrap=resamples, seed=seed, paired_resamples=PAIRED_RESAMPLES)
    _rank(rows, headline)
    what = "studies" if task == "findings" else f"{task} examples"
    context = {"test_set": f"{len(test)} test-split {what} of {data.format} data ({data.path or 'default set'})",
               "headline": headline, "best": best_rows(rows, headline),
               "intervals": f"95% percentile bootstrap over studies ({resamples} resamples, seed {seed})",
               "p_vs_best": f"paired bootstrap test against the best row on each metric ({PAIRED_RESAMPLES} "
                                "resamples)"}
    if not_computed:  # a suite's columns that could not run (compare --suite): named with what they miss
        context["not_computed"] = "; ".join(f"{name}: {reason}" for name, reason in not_computed.items())
    files = _write_outputs(systems, rows, results, headline, task_folder(out_dir, task), context, task)
    if task == "findings":  # the viewer shows reports; another task's answers are in its predictions files
        files["viewer"] = build_viewer(out_dir, list(test))
    return ComparisonResult(out_dir, rows, files, headline)
