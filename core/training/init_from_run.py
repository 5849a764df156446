"""``radzoo train RECIPE --init RUN``: continued fine-tuning that starts from another run's weights.

The recipe must build the run's components (same names, same weight shapes). The run's LoRA is merged
into its LM first, so a recipe with LoRA trains a fresh LoRA on top of the run's merged weights. A run
started this way stores every weight it took from RUN (not only what it trained), so it loads on its
own; ``init.json`` records RUN, and ``--resume`` takes it from there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from radzoo.errors import InputError
from radzoo.files.atomic import write_text_atomic
from radzoo.model.lora import merged_language_model
from radzoo.recipe.load import load_recipe
from radzoo.runs.layout import RunDir, require_run_dir
from radzoo.runs.open import open_model

COMPONENTS = ("encoder", "adapter", "llm")


def _plain_name(key: str) -> str:
    """A weight's name without peft's wrapping, so LoRA and merged models name the same weight alike."""
    return key.replace("base_model.model.", "", 1).replace(".base_layer.", ".")


def run_weights(cfg: Any, run_dir: Path) -> dict[str, torch.Tensor]:
    """The run's weights (LoRA merged) under their plain names, after checking its components are ``cfg``'s."""
    theirs = load_recipe(require_run_dir(run_dir, "--init").recipe)
    for part in COMPONENTS:
        if str(cfg[part].name) != str(theirs[part].name):
            raise InputError(f"--init {run_dir}: the recipe's {part} is {cfg[part].name!r} but the run's is "
                             f"{theirs[part].name!r}; continue training with a recipe built of the run's components")
    model, _ = open_model(run_dir)
    merged_language_model(model)
    return {_plain_name(k): v for k, v in model.state_dict().items() if not k.startswith("encoder_head.")}


def _starting_state(model: Any, source: dict[str, torch.Tensor], run_dir: Path) -> dict[str, torch.Tensor]:
    """``model``'s weights taken from ``source``; the first missing or misshapen weight is an error."""
    state = {}
    for key, own in model.state_dict().items():
        if "lora_" in key or key.startswith("encoder_head."):
            continue  # a fresh LoRA (and label head) starts from the run's merged weights
        theirs = source.get(_plain_name(key))
        if theirs is None:
            raise InputError(f"--init {run_dir}: the run has no weight {_plain_name(key)!r} that the recipe's model "
                             "has; its components differ")
        if tuple(theirs.shape) != tuple(own.shape):
            raise InputError(f"--init {run_dir}: weight {_plain_name(key)!r} is {list(theirs.shape)} in the run but "
                             f"{list(own.shape)} in the recipe's model; set the recipe's component args as the run's")
        state[key] = theirs.to(own.dtype)
    return state


def start_from_run(model: Any, cfg: Any, out_dir: Path, init: str | Path | None, resume: bool) -> set[str]:
    """Load ``init``'s weights into ``model`` (on --resume, the run recorded in ``out_dir``); returns the
    names of the weights taken, which the finished run must store. Nothing to do without ``init``."""
    init_info = RunDir(out_dir).init_info
    recorded = json.loads(init_info.read_text())["init"] if init_info.is_file() else None
    if resume and recorded is not None and init is not None and Path(init).resolve() != Path(recorded):
        raise InputError(f"{out_dir}: --resume with --init {init}, but the run started from {recorded}; resume "
                         "with the same --init (or none)")
    init = init if init is not None else (recorded if resume else None)
    if init is None:
        return set()
    run_dir = Path(init).resolve()
    state = _starting_state(model, run_weights(cfg, run_dir), run_dir)
    model.load_state_dict(state, strict=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(init_info, json.dumps({"init": str(run_dir)}, indent=2) + "\n")
    return set(state)


def with_initial_weights(model: Any, trained_state: dict[str, torch.Tensor], init_keys: set[str]
                         ) -> dict[str, torch.Tensor]:
    """What the finished run stores: the trained parts plus every weight taken from the --init run."""
    if not init_keys:
        return trained_state
    current = model.state_dict()
    return {**{k: current[k].detach().cpu() for k in init_keys}, **trained_state}
