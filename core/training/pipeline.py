"""train(recipe, out_dir): run the recipe's stages in order on Lightning and save a radzoo run directory.

RUN_DIR/recipe.yaml + RUN_DIR/model.safetensors hold the result (what generation loads);
RUN_DIR/checkpoints/last/ lets ``resume=True`` continue exactly where an interrupted run stopped;
RUN_DIR/checkpoints/<stage>/ keeps each finished stage; RUN_DIR/train_summary.json the losses.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from radzoo.data.images import ImageError
from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.readers import read_studies
from radzoo.data.study import Study
from radzoo.errors import InputError, OutputExistsError
from radzoo.files.atomic import write_json_atomic
from radzoo.model.build import build_model
from radzoo.recipe.diff import recipe_differences
from radzoo.recipe.load import apply_overrides, load_recipe, recipe_hash, save_recipe
from radzoo.runs.layout import RunDir
from radzoo.runs.store import save_run
from radzoo.training.checkpoints import (
    TrainState,
    checkpoint_dir,
    has_checkpoint,
    load_checkpoint,
)
from radzoo.training.init_from_run import start_from_run, with_initial_weights
from radzoo.training.interrupt import GracefulInterrupt
from radzoo.training.stage_run import StageResult, StageRun
from radzoo.training.stages import attach_encoder_head, check_stage, part_state_dict
from radzoo.training.summary import summary_stages
from radzoo.training.trainer import require_strategy_package

log = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after checkpointing its last step; ``resume=True`` continues it."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"training interrupted; checkpoint saved in {run_dir}")
        self.run_dir = run_dir


@dataclass
class RunResult:
    run_dir: Path
    stages: list[StageResult] = field(default_factory=list)
    replica_checksums: dict[str, list[float]] = field(default_factory=dict)
    stopped_early: bool = False


def _resolve_recipe(recipe: str | Path | DictConfig, overrides: Sequence[str]) -> DictConfig:
    if isinstance(recipe, DictConfig):
        return apply_overrides(recipe.copy(), list(overrides))
    return load_recipe(recipe, list(overrides))


def _check_trainer_keys(cfg: DictConfig) -> None:
    require_strategy_package(str(cfg.trainer.strategy))  # the closed sets were checked when the recipe loaded
    if not cfg.stages:
        raise InputError("recipe key 'stages': the recipe declares no training stages")
    cap = cfg.trainer.max_steps_per_stage
    if cap is not None and int(cap) < 1:
        raise InputError(f"recipe key 'trainer.max_steps_per_stage': {cap} steps; give 1 or more, or null for no cap")


def _start_state(cfg: DictConfig, run: RunDir, resume: bool) -> tuple[TrainState, dict | None, dict]:
    """(training state, weights, optimizer state) to start from: a fresh run, or the checkpoint ``resume`` asks
    for (which must be of this very recipe); a run directory already in use needs ``resume``."""
    run_dir = run.path
    if resume and not has_checkpoint(run_dir):
        # killed before its first checkpoint: nothing to continue, so resuming is starting
        log.info(f"{run_dir}: no checkpoint yet, training from the start")
    elif resume:
        state, weights, extra = load_checkpoint(checkpoint_dir(run_dir))
        if state.recipe_hash != recipe_hash(cfg):
            raise InputError(f"{run_dir}: --resume with a recipe that differs from the run's "
                             f"({run.recipe}: {recipe_differences(run.recipe, cfg)}); "
                             "resume with that recipe and the same overrides")
        return state, weights, extra
    elif has_checkpoint(run_dir):
        raise OutputExistsError(f"{run_dir}: already holds a training run; pass --resume to continue it "
                              "or choose another --out directory")
    return TrainState(recipe_hash=recipe_hash(cfg)), None, {}


def _training_data(cfg: DictConfig, studies: Sequence[Study] | None, validation_studies: Sequence[Study] | None
                   ) -> tuple[Sequence[Study], Sequence[Study] | None]:
    """The training (and validation) studies: the given ones, else the recipe's data reader's."""
    if studies is None:
        studies = read_studies(cfg.data, split="train").studies
        if cfg.trainer.val_every_n_steps and validation_studies is None:
            validation_studies = read_studies(cfg.data, split="validate").studies
    if cfg.trainer.val_every_n_steps and not validation_studies:
        raise InputError("recipe key 'trainer.val_every_n_steps' is set but the data has no validate split "
                         "studies; add some (split column 'validate') or set trainer.val_every_n_steps=null")
    return studies, validation_studies


@dataclass
class _Start:
    """Where a run starts: its state, the checkpoint's weights and optimizer state, the parts trained so far."""

    state: TrainState
    weights: dict | None
    extra: dict
    trained: set[str]


def _run_stages(cfg: DictConfig, model: Any, run_dir: Path, start: _Start, data: tuple, stop_after_steps: int | None,
                interrupt: GracefulInterrupt) -> tuple[RunResult, TrainState]:
    """Each stage not finished yet, in order, until the step budget, an early stop or Ctrl-C ends the run."""
    state, result = start.state, RunResult(run_dir)
    total_done = sum(len(v) for v in state.losses.values())
    for index, _ in enumerate(cfg.stages):
        if index < state.stage_index or (index == state.stage_index and state.stage_done):
            continue
        resuming_here = start.weights is not None and index == state.stage_index and state.step > 0
        if not resuming_here:
            state = TrainState(index, 0, False, sorted(start.trained), state.recipe_hash, losses=state.losses)
        budget = None if stop_after_steps is None else stop_after_steps - total_done
        try:
            stage_run = StageRun(cfg, model, index, run_dir, state, start.trained, interrupt,
                                 start.extra if resuming_here else None)
            stage_run.set_up(*data, budget)
            stage_result, stopped = stage_run.finish(stage_run.fit(), result.replica_checksums)
        except ImageError as exc:
            raise ImageError(f"{exc}; or set data.options.verify_images=true to skip (and count) unreadable "
                             "images when the data is read") from None
        total_done += stage_result.steps
        result.stages.append(stage_result)
        if stopped or interrupt.requested:  # a Ctrl-C in the stage's last step stops before the next one
            result.stopped_early = True
            break
    return result, state


def _write_summary(cfg: DictConfig, run: RunDir, result: RunResult, state: TrainState, resume: bool) -> None:
    stages = summary_stages(run.summary, [str(s.name) for s in cfg.stages], [asdict(s) for s in result.stages],
                            state.losses, resumed=resume)
    summary = {"stages": stages, "replica_checksums": result.replica_checksums,
               "stopped_early": result.stopped_early, "losses": state.losses}
    write_json_atomic(run.summary, summary)


def train(recipe: str | Path | DictConfig, out_dir: str | Path, resume: bool = False, *,
          overrides: Sequence[str] = (), studies: Sequence[Study] | None = None,
          stop_after_steps: int | None = None, validation_studies: Sequence[Study] | None = None,
          init: str | Path | None = None) -> RunResult:
    """Train the recipe's stages in order and save RUN_DIR (see the module doc).

    ``studies`` (and ``validation_studies``) replace the recipe's data reader (tests, notebooks);
    ``stop_after_steps`` ends the run
    after that many optimizer steps in all, checkpointed so that ``resume=True`` continues it.
    ``init`` starts from another run's weights (continued fine-tuning; see radzoo.training.init_from_run).
    """
    import lightning as L
    from lightning.pytorch.utilities import rank_zero_only

    # tiny stages take fewer steps than the logging interval; the metrics CSV still gets every logged step
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    cfg = _resolve_recipe(recipe, overrides)
    _check_trainer_keys(cfg)
    run = RunDir(Path(out_dir))
    is_zero = rank_zero_only.rank == 0
    state, weights, extra = _start_state(cfg, run, resume)
    if is_zero:
        save_recipe(cfg, run.recipe)

    L.seed_everything(int(cfg.trainer.seed), workers=True, verbose=False)
    model = build_model(cfg, source=None if isinstance(recipe, DictConfig) else recipe)
    init_keys = start_from_run(model, cfg, run.path, init, resume)
    for i, stage in enumerate(cfg.stages):
        check_stage(model, stage, i)
    data = _training_data(cfg, studies, validation_studies)

    trained = set(state.trained_parts)
    if "encoder_head" in trained or any(s.task == "labels" for s in cfg.stages[:state.stage_index]):
        attach_encoder_head(model, len(CHEXPERT_OBSERVATIONS))
    if weights is not None:
        model.load_state_dict(weights, strict=False)

    with GracefulInterrupt() as interrupt:
        result, state = _run_stages(cfg, model, run.path, _Start(state, weights, extra, trained), data,
                                    stop_after_steps, interrupt)
    if is_zero and not result.stopped_early:
        save_run(model, cfg, run.path, state=with_initial_weights(model, part_state_dict(model, trained), init_keys))
    if is_zero:
        _write_summary(cfg, run, result, state, resume)
    if interrupt.requested:
        # checkpointed and summarised: callers (the CLI, compare) unwind as from any Ctrl-C, and resume later
        raise TrainingInterrupted(run.path)
    return result
