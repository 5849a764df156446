"""``open_model``: the one way to get a model from a recipe (untrained), a run, an imported release or an export.

Generation, serving, comparison, ``train --init`` and the exporters all open models here; this module imports
none of them. A relative path in the recipe's component arguments that names something inside the run directory
(an imported or exported run's ``llm/`` and ``encoder/``) is resolved against the run directory, so a run can be
moved or copied elsewhere and still load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from radzoo.errors import InputError
from radzoo.files.weight_files import load_weights
from radzoo.model.build import build_model
from radzoo.recipe.load import load_recipe
from radzoo.runs.layout import RunDir, is_run_dir, require_run_dir

# component arguments that hold file or directory paths
PATH_ARGS = ("encoder.args.path", "encoder.args.hf_path", "encoder.args.config", "llm.args.path")


def resolve_run_paths(recipe: DictConfig, run_dir: str | Path) -> DictConfig:
    """Make relative ``PATH_ARGS`` that exist inside ``run_dir`` absolute (in place); returns the recipe."""
    for key in PATH_ARGS:
        value = OmegaConf.select(recipe, key)
        if isinstance(value, str) and value and not Path(value).is_absolute() and (Path(run_dir) / value).exists():
            OmegaConf.update(recipe, key, str((Path(run_dir) / value).resolve()))
    return recipe


def open_model(source: str | Path | None, overrides: Sequence[str] = (),
               checkpoint: str | Path | None = None) -> tuple[Any, DictConfig]:
    """(model, recipe) in eval mode from a recipe (untrained, seeded), a run directory, an import or an export.

    With ``checkpoint`` (a run directory), ``source`` may name the run's own recipe, which must build the same
    encoder and adapter.
    """
    if checkpoint is None and source is not None and is_run_dir(source):
        checkpoint, source = source, None
    if checkpoint is None:
        recipe = load_recipe(source, list(overrides))
        # seeded, so the untrained model (random adapter) is the same on a rerun and on every rank
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(recipe.trainer.seed))
            model = build_model(recipe, source=source)
        model.eval()
        return model, recipe
    run = require_run_dir(checkpoint, "--checkpoint")
    # an export's recipe names its LM directory relative to the export; make it absolute here
    extra = [f"llm.args.path={run.llm_dir.resolve()}"] if run.is_export() else []
    model, recipe = _open_run(run, extra + list(overrides))
    if source is not None:
        _check_same_parts(load_recipe(source, list(overrides)), recipe, source, run.path)
    return model, recipe


def _open_run(run: RunDir, overrides: list[str]) -> tuple[Any, DictConfig]:
    """Rebuild the run's model from its recipe and load its trained weights."""
    recipe = resolve_run_paths(load_recipe(run.recipe, overrides), run.path)
    model = build_model(recipe, source=run.recipe)
    state = load_weights(run.weights)
    own = model.state_dict()
    unknown = [k for k in state if k not in own and not k.startswith("encoder_head.")]
    if unknown:
        raise InputError(f"{run.weights}: {len(unknown)} weights do not fit this recipe's model "
                         f"(first: {unknown[0]}); was the run made with another recipe?")
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    model.eval()
    return model, recipe


def _check_same_parts(wanted: DictConfig, recipe: DictConfig, source: str | Path, run_dir: Path) -> None:
    theirs = [str(wanted[part].name) for part in ("encoder", "adapter")]
    ours = [str(recipe[part].name) for part in ("encoder", "adapter")]
    if theirs != ours:
        raise InputError(f"recipe {source} ({' + '.join(theirs)}) does not match the model in {run_dir} "
                         f"({' + '.join(ours)}); pass the run's own recipe or the run directory alone")
