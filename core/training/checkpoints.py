"""Resumable training checkpoints without pickle: tensors in safetensors, everything else in JSON.

Layout of RUN_DIR/checkpoints/<name>/:
    weights-<stage>-<step>.safetensors     weights of every part trained so far (by module name)
    optimizer-<stage>-<step>.safetensors   the optimizer's state tensors, keyed "<param index>.<name>", plus RNGs
    state.json              stage, step, scheduler state, optimizer param groups, losses so far, and the names
                            of the two files above

A checkpoint is crash-safe: the tensor files of a new step get new names, state.json (renamed into place last)
switches to them, and only then are the previous step's files removed. A kill at any point leaves a state.json
whose files are complete and belong to the same step.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import stale_temporaries, write_json_atomic
from radzoo.files.weight_files import load_weights, save_weights
from radzoo.runs.layout import CHECKPOINTS_DIR

LAST = "last"


def checkpoint_dir(run_dir: Path, name: str = LAST) -> Path:
    """``RUN_DIR/checkpoints/NAME``: the rolling ``last`` checkpoint, or a finished stage's."""
    return Path(run_dir) / CHECKPOINTS_DIR / name


def has_checkpoint(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a resumable checkpoint (its state.json is renamed into place last)."""
    return (checkpoint_dir(run_dir) / "state.json").is_file()


@dataclass
class TrainState:
    """Where training stands: ``step`` optimizer steps done in stage ``stage_index`` (``done`` when finished)."""

    stage_index: int = 0
    step: int = 0
    stage_done: bool = False
    trained_parts: list[str] = field(default_factory=list)
    recipe_hash: str = ""
    scheduler: dict[str, Any] | None = None
    param_groups: list[dict[str, Any]] | None = None
    losses: dict[str, list[float]] = field(default_factory=dict)
    # tensor files of this checkpoint: {"weights": name, "optimizer": name} (empty: the pre-rename layout)
    files: dict[str, str] = field(default_factory=dict)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """The optimizer state as flat tensors and JSON-able param groups."""
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            tensors[f"{index}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, state["param_groups"]


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      param_groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("rng."):
            continue
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in param_groups]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(directory: Path, weights: dict[str, torch.Tensor], train_state: TrainState,
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write one checkpoint directory: new tensor files, then state.json naming them, then old files removed."""
    directory.mkdir(parents=True, exist_ok=True)
    tag = f"{train_state.stage_index}-{train_state.step}"
    files = {"weights": f"weights-{tag}.safetensors", "optimizer": f"optimizer-{tag}.safetensors"}
    save_weights(weights, directory / files["weights"])
    extra = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        extra.update({f"rng.cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    if optimizer is not None:
        tensors, train_state.param_groups = optimizer_tensors(optimizer)
        extra.update(tensors)
    save_weights(extra, directory / files["optimizer"])
    train_state.files = files
    write_json_atomic(directory / "state.json", asdict(train_state))
    # the previous step's files, and any half-written ones a killed run left behind
    for stale in [*directory.glob("weights*.safetensors"), *directory.glob("optimizer*.safetensors"),
                  *stale_temporaries(directory)]:
        if stale.name not in files.values():
            stale.unlink(missing_ok=True)
    return directory


def load_checkpoint(directory: Path) -> tuple[TrainState, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(train state, weights, optimizer + RNG tensors) of a checkpoint directory."""
    state_file = directory / "state.json"
    if not state_file.is_file():
        raise MissingFileError(f"{directory}: no resumable checkpoint (state.json missing); "
                                "run without --resume to start afresh")
    try:
        train_state = TrainState(**json.loads(state_file.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError) as exc:
        raise InputError(f"{state_file}: not a radzoo training state ({exc})") from None
    files = train_state.files or {"weights": "weights.safetensors", "optimizer": "optimizer.safetensors"}
    return train_state, load_weights(directory / files["weights"]), load_weights(directory / files["optimizer"])


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda"))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
