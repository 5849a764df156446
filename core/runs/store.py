"""Saving a run directory: the resolved recipe plus the trained weights (safetensors only, never pickle).

The layout is ``radzoo.runs.layout``'s; ``radzoo.runs.open.open_model`` loads what this writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from radzoo.files.weight_files import save_weights
from radzoo.recipe.load import save_recipe
from radzoo.runs.layout import RunDir


def save_run(model: Any, recipe: DictConfig, run_dir: str | Path, state: dict[str, torch.Tensor] | None = None) -> Path:
    """Save the resolved recipe and the trained weights (default: the currently trainable ones)."""
    run = RunDir(Path(run_dir))
    save_recipe(recipe, run.recipe)
    save_weights(state if state is not None else model.trainable_state_dict(), run.weights)
    return run.path
