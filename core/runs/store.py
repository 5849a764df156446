"""Run directories: the resolved recipe plus the trained weights (safetensors only, never pickle).

Layout of RUN_DIR:
    recipe.yaml          the fully resolved recipe (rebuilds the untrained model deterministically)
    model.safetensors    weights that training changed (adapter, LoRA, unfrozen parts), by module name

A relative path in the recipe's component arguments that names something inside the run directory (an
imported or exported run's ``llm/`` and ``encoder/``) is resolved against the run directory, so a run can be
moved or copied elsewhere and still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import atomic_target
from radzoo.model.build import build_model
from radzoo.recipe.load import load_recipe, save_recipe

RECIPE_FILE = "recipe.yaml"
WEIGHTS_FILE = "model.safetensors"


def save_weights(state: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write tensors to safetensors atomically (``atomic_target``), so a crash never leaves a torn file."""
    from safetensors.torch import save_file

    with atomic_target(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp), metadata=metadata)
    return Path(path)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file; anything else is refused (pickles can run code)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: checkpoint file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a valid safetensors file ({exc}); radzoo loads weights from "
                         "safetensors only, never from pickle files") from None


def save_run(model: Any, recipe: DictConfig, run_dir: str | Path, state: dict[str, torch.Tensor] | None = None) -> Path:
    """Save the resolved recipe and the trained weights (default: the currently trainable ones)."""
    run_dir = Path(run_dir)
    save_recipe(recipe, run_dir / RECIPE_FILE)
    save_weights(state if state is not None else model.trainable_state_dict(), run_dir / WEIGHTS_FILE)
    return run_dir


# component arguments that hold file or directory paths
PATH_ARGS = ("encoder.args.path", "encoder.args.hf_path", "encoder.args.config", "llm.args.path")


def resolve_run_paths(recipe: DictConfig, run_dir: str | Path) -> DictConfig:
    """Make relative ``PATH_ARGS`` that exist inside ``run_dir`` absolute (in place); returns the recipe."""
    from omegaconf import OmegaConf

    for key in PATH_ARGS:
        value = OmegaConf.select(recipe, key)
        if isinstance(value, str) and value and not Path(value).is_absolute() and (Path(run_dir) / value).exists():
            OmegaConf.update(recipe, key, str((Path(run_dir) / value).resolve()))
    return recipe


def load_trained_model(run_dir: str | Path, overrides: list[str] | None = None) -> tuple[Any, DictConfig]:
    """Rebuild the run's model from its recipe and load its trained weights; returns (model, recipe)."""
    run_dir = Path(run_dir)
    recipe_path = run_dir / RECIPE_FILE
    if not recipe_path.is_file():
        raise MissingFileError(f"{run_dir}: not a radzoo run directory (no {RECIPE_FILE}); "
                                "pass the --out directory of `radzoo train`")
    recipe = resolve_run_paths(load_recipe(recipe_path, overrides or []), run_dir)
    model = build_model(recipe, source=recipe_path)
    state = load_weights(run_dir / WEIGHTS_FILE)
    own = model.state_dict()
    unknown = [k for k in state if k not in own and not k.startswith("encoder_head.")]
    if unknown:
        raise InputError(f"{run_dir / WEIGHTS_FILE}: {len(unknown)} weights do not fit this recipe's model "
                         f"(first: {unknown[0]}); was the run made with another recipe?")
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    model.eval()
    return model, recipe
