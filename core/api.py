"""The Python functions behind ``radzoo train|generate|evaluate|compare``: they take what the commands take and
default as the commands do (``radzoo.train``, ``radzoo.generate``, ``radzoo.evaluate``, ``radzoo.compare``).

``data`` is what the commands' ``--data`` takes: a data file or folder (read with the recipe's ``data.format``,
or ``format=``), a ``FORMAT:PATH`` or ``FORMAT`` spec (``csv:reports.csv``, ``synthetic``), a list of
``Study`` objects, or a recipe ``data`` mapping. The recipe, its overrides and the data are checked (and the
data read) before torch or any model library loads, so a typo is answered at once; a selection with no studies
is an error naming what was selected from what.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from radzoo.data.readers import FORMATS, ReadResult, read_studies
from radzoo.data.study import Study
from radzoo.data.tasks import task_studies
from radzoo.errors import InputError, MissingFileError
from radzoo.recipe.load import apply_overrides, load_recipe

RECIPE_FILE = "recipe.yaml"  # a run or export directory holds its resolved recipe
DataArg = str | Path | Sequence[Study] | Mapping[str, Any] | DictConfig | None


def data_overrides(data: DataArg, format: str | None = None, image_root: str | Path | None = None) -> list[str]:
    """Recipe overrides for a data path or ``FORMAT[:PATH]`` spec (a Study list or mapping gives none)."""
    extra: list[str] = []
    if isinstance(data, (str, Path)):
        text = str(data)
        fmt, sep, rest = text.partition(":")
        if fmt in FORMATS and (sep or not Path(text).exists()):
            extra += [f"data.format={fmt}"] + ([f"data.path={rest}"] if rest else [])
        else:
            extra.append(f"data.path={text}")
    if format is not None:
        extra.append(f"data.format={format}")
    if image_root is not None:
        extra.append(f"data.image_root={image_root}")
    return extra


def check_recipe(source: str | Path | DictConfig, overrides: Sequence[str] = (),
                 checkpoint: str | Path | None = None) -> DictConfig:
    """The resolved recipe of a recipe name/path, a run or export directory (its recipe.yaml), or ``checkpoint``'s,
    with ``overrides`` applied: every key and value checked, no torch imported."""
    if isinstance(source, DictConfig):
        return apply_overrides(source.copy(), list(overrides))
    directory = Path(checkpoint) if checkpoint is not None else Path(source)
    if (directory / RECIPE_FILE).is_file():
        return load_recipe(directory / RECIPE_FILE, list(overrides))
    if checkpoint is not None:
        raise MissingFileError(f"--checkpoint {checkpoint}: not a run or export directory (no {RECIPE_FILE})")
    return load_recipe(source, list(overrides))


def selection_problem(read: ReadResult, data_cfg: Any, split: str | None, fix: str | None = None) -> str | None:
    """Why a read selected no studies (``"0 studies in split test (4 in train); ..."``), or None if it did;
    ``fix`` replaces the hint to pass another --split (for commands that have none)."""
    if read.studies:
        return None
    where = f"{data_cfg.get('format') or 'synthetic'} data {data_cfg.get('path') or '(default set)'}"
    others = read.other_splits
    if split is not None and others:
        counts = ", ".join(f"{n} in {name}" for name, n in sorted(others.items()))
        fix = fix or f"pass --split {' or '.join([*sorted(others), 'all'])}"
        return f"0 studies in split {split} of {where} ({counts}); {fix}"
    reasons = [f"{n} {reason}" for reason, n in sorted(read.filtered.items()) if reason != "other_split"]
    reasons += [f"{len(items)} skipped ({reason}, e.g. {items[0][0]}: {items[0][1]})"
                for reason, items in sorted(read.skipped.items())]
    left = f": {'; '.join(reasons)}" if reasons else ": it holds no records"
    chosen = f" in split {split}" if split else ""
    return (f"0 studies{chosen} of {where}{left}; check the data path, --format and the reader's options "
            "(radzoo data check --format FORMAT --path PATH lists what is read)")


def read_selection(data_cfg: Any, split: str | None, fix: str | None = None) -> ReadResult:
    """The studies of ``split`` (None: all) of a recipe ``data`` section; InputError if none is selected."""
    read = read_studies(data_cfg, split=split)
    problem = selection_problem(read, data_cfg, split, fix)
    if problem:
        raise InputError(problem)
    return read


def _split(split: str | None) -> str | None:
    return None if split in (None, "all") else split


def _studies_or_overrides(data: DataArg, format: str | None,
                          image_root: str | Path | None) -> tuple[list[Study] | None, Mapping | None, list[str]]:
    if isinstance(data, Mapping | DictConfig):
        return None, data, data_overrides(None, format, image_root)
    if data is not None and not isinstance(data, (str, Path)):
        studies = list(data)
        if not all(isinstance(s, Study) for s in studies):
            raise InputError("data: give a data path, a FORMAT[:PATH] spec, a recipe data mapping or a list of Study")
        return studies, None, []
    return None, None, data_overrides(data, format, image_root)


def set_torch_threads(threads: int | None) -> None:
    """torch's intra-op CPU threads (None or 0: leave torch's setting)."""
    if threads:
        import torch  # torch: only after the recipe and the data were checked

        torch.set_num_threads(int(threads))


def generate(source: str | Path, data: DataArg = None, *, out: str | Path, split: str | None = "test",
             format: str | None = None, image_root: str | Path | None = None, checkpoint: str | Path | None = None,
             overrides: Sequence[str] = (), batch_size: int | None = None, device: str = "cpu", dtype: str = "fp32",
             rank: int | None = None, world_size: int | None = None, task: str = "findings",
             threads: int | None = None) -> Any:
    """``radzoo generate``: a report per study of ``split`` (default test, as the command; "all" or None: every
    study) into the JSONL ``out``, resumable; ``task`` as ``--task`` (a Study list is taken as it is). ``threads``
    leaves torch's setting unless given (the command: 1)."""
    studies, data_cfg, extra = _studies_or_overrides(data, format, image_root)
    recipe = check_recipe(source, [*overrides, *extra], checkpoint)
    unread: list[tuple[str, str]] = []
    if studies is None:
        read = read_selection(data_cfg if data_cfg is not None else recipe.data, _split(split))
        studies, unread = task_studies(read.studies, task), read.skipped_items()
        if not studies:
            raise InputError(f"none of the {len(read.studies)} studies has what task {task!r} needs (impression, "
                             "labels); pass another --task, or data with those sections")
    elif not studies:
        raise InputError("generate: data is an empty list of studies")
    set_torch_threads(threads)
    from radzoo.generation.pipeline import generate as run_generation  # torch: after the checks above

    result = run_generation(source, out=out, checkpoint=checkpoint, studies=studies, batch_size=batch_size,
                            device=device, dtype=dtype, overrides=[*overrides, *extra], rank=rank,
                            world_size=world_size, task=task)
    result.failed += unread
    return result


def train(recipe: str | Path | DictConfig, out: str | Path, data: DataArg = None, *, overrides: Sequence[str] = (),
          resume: bool = False, init: str | Path | None = None, stop_after_steps: int | None = None,
          threads: int | None = None) -> Any:
    """``radzoo train``: the recipe's stages on the train split of ``data`` (default: the recipe's own data)
    into the run directory ``out``. ``threads`` leaves torch's setting unless given (the command: 1)."""
    studies, data_cfg, extra = _studies_or_overrides(data, None, None)
    cfg = check_recipe(recipe, [*overrides, *extra])
    validation = None
    if studies is None:
        source = data_cfg if data_cfg is not None else cfg.data
        studies = read_selection(source, "train", "training reads the train split: mark some studies train").studies
        if cfg.trainer.val_every_n_steps:
            validation = read_studies(source, split="validate").studies
    set_torch_threads(threads)
    from radzoo.training.pipeline import train as run_training  # torch: after the checks above

    return run_training(recipe, out, resume=resume, overrides=[*overrides, *extra], studies=studies,
                        validation_studies=validation, stop_after_steps=stop_after_steps, init=init)


def evaluate(predictions: str | Path | Sequence[str], references: Sequence[str] | None = None, *,
             metrics: Sequence[str] | None = None, options: Mapping[str, Mapping[str, Any]] | None = None,
             bootstrap: int = 500, seed: int = 0, per_sample: bool = True, task: str = "findings") -> dict[str, Any]:
    """``radzoo evaluate``: metrics with bootstrap CIs for a predictions JSONL (``id``, ``prediction``,
    ``reference`` per line; with ``task="vqa"`` also ``question`` and ``kind``) or for lists of predictions and
    ``references`` (for vqa, references made with radzoo.plugins.evaluators.vqa_scores.vqa_reference)."""
    from radzoo.evaluation.pipeline import evaluate as run_evaluation  # loads the evaluators
    from radzoo.evaluation.pipeline import read_predictions
    from radzoo.plugins.evaluators.vqa_scores import vqa_reference

    ids = None
    if task == "vqa":
        metrics = metrics or ["vqa"]
    if isinstance(predictions, (str, Path)):
        if references is not None:
            raise InputError("evaluate: a predictions file carries its references; leave references out")
        rows = read_predictions(predictions)
        if not rows:
            raise InputError(f"{predictions}: no predictions to evaluate")
        predictions, references, ids = ([r[k] for r in rows] for k in ("prediction", "reference", "id"))
        if task == "vqa":  # the vqa evaluator reads each answer with its question
            references = [vqa_reference(str(r.get("question") or ""), r["reference"], r.get("kind")) for r in rows]
    elif references is None:
        raise InputError("evaluate: pass references= with a list of predictions (or a predictions JSONL path)")
    return run_evaluation(list(predictions), list(references), metrics=metrics, options=options,
                          bootstrap=bootstrap, seed=seed, ids=ids, per_sample=per_sample)


def check_data_path(data_cfg: Any) -> None:
    """A recipe ``data`` section whose ``data.path`` is set must exist (the readers check the rest)."""
    path = data_cfg.get("path")
    if path not in (None, "") and not Path(str(path)).expanduser().exists():
        raise MissingFileError(f"data.path {path} does not exist (format {data_cfg.get('format')!r}); point "
                               "data.path (or --data) at the data file or folder")


def compare(items: Sequence[str | Path | DictConfig], out: str | Path, data: str | Path | None = None, *,
            overrides: Sequence[str] = (), threads: int | None = None, **options: Any) -> Any:
    """``radzoo compare``: recipes (and ``run:DIR`` runs) on the test split of ``data`` (a ``FORMAT[:PATH]`` spec
    or a path; not a Study list: every row reads the same data set). ``options`` are
    radzoo.comparison.pipeline.compare's (metrics, metric_options, baselines, headline, bootstrap, batch_size)."""
    from radzoo.comparison.pipeline import compare as run_comparison  # matplotlib, no torch
    from radzoo.comparison.pipeline import is_run_source

    if data is not None and not isinstance(data, (str, Path)):
        raise InputError("compare: data is a FORMAT[:PATH] spec or a path; every row reads the same data set")
    all_overrides = [*data_overrides(data), *overrides]
    recipes = [item for item in items if not is_run_source(item)]
    for recipe in recipes:  # each recipe with the shared overrides, before torch loads (runs: in compare)
        check_data_path(check_recipe(recipe, all_overrides).data)
    if not recipes:  # runs alone read the data the overrides name
        given = dict(o.split("=", 1) for o in all_overrides if o.startswith(("data.path=", "data.format=")))
        check_data_path({key.removeprefix("data."): value for key, value in given.items()})
    set_torch_threads(threads)
    return run_comparison(items, out, overrides=all_overrides, **options)
