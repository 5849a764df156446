"""train(recipe, out_dir): run the recipe's stages in order on Lightning and save a radzoo run directory.

RUN_DIR/recipe.yaml + RUN_DIR/model.safetensors hold the result (what generation loads);
RUN_DIR/checkpoints/last/ lets ``resume=True`` continue exactly where an interrupted run stopped;
RUN_DIR/checkpoints/<stage>/ keeps each finished stage; RUN_DIR/train_summary.json the losses.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from radzoo.data.images import ImageError
from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.readers import read_studies
from radzoo.data.readers.mixture import source_weights
from radzoo.data.study import Study
from radzoo.errors import InputError, OutputExistsError
from radzoo.files.atomic import write_json_atomic
from radzoo.model.build import build_model
from radzoo.progress import Progress
from radzoo.recipe.diff import recipe_differences
from radzoo.recipe.load import apply_overrides, load_recipe, recipe_hash, save_recipe
from radzoo.runs.store import save_run
from radzoo.training.checkpoints import (
    TrainState,
    checkpoint_dir,
    has_checkpoint,
    load_checkpoint,
    restore_optimizer,
    restore_rng,
    save_checkpoint,
)
from radzoo.training.dataset import StageDataset, batches_per_epoch
from radzoo.training.init_from_run import start_from_run, with_initial_weights
from radzoo.training.interrupt import GracefulInterrupt
from radzoo.training.stages import attach_encoder_head, check_stage, part_state_dict, stage_steps
from radzoo.training.summary import edge_mean, summary_stages
from radzoo.training.trainer import build_trainer, fill_feature_cache, require_strategy_package
from radzoo.training.validation import stage_validation

log = logging.getLogger(__name__)

SUMMARY_FILE = "train_summary.json"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after checkpointing its last step; ``resume=True`` continues it."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"training interrupted; checkpoint saved in {run_dir}")
        self.run_dir = run_dir


@dataclass
class StageResult:
    """One stage's optimizer steps, examples seen, mean loss over its first and last steps, and wall time."""

    name: str
    steps: int
    samples: int
    start_loss: float
    end_loss: float
    seconds: float
    validation: list[tuple[int, float]] = field(default_factory=list)  # (step, validation loss)
    best_step: int | None = None  # the step whose weights the stage kept (trainer.keep_best)
    examples_by_group: dict[str, int] = field(default_factory=dict)  # per data source / task, when mixed


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
    run_dir = Path(out_dir)
    is_zero = rank_zero_only.rank == 0
    state, weights, extra = TrainState(recipe_hash=recipe_hash(cfg)), None, {}
    if resume and not has_checkpoint(run_dir):
        # killed before its first checkpoint: nothing to continue, so resuming is starting
        log.info(f"{run_dir}: no checkpoint yet, training from the start")
    elif resume:
        state, weights, extra = load_checkpoint(checkpoint_dir(run_dir))
        if state.recipe_hash != recipe_hash(cfg):
            raise InputError(f"{run_dir}: --resume with a recipe that differs from the run's "
                             f"({run_dir / 'recipe.yaml'}: {recipe_differences(run_dir / 'recipe.yaml', cfg)}); "
                             "resume with that recipe and the same overrides")
    elif has_checkpoint(run_dir):
        raise OutputExistsError(f"{run_dir}: already holds a training run; pass --resume to continue it "
                              "or choose another --out directory")
    if is_zero:
        save_recipe(cfg, run_dir / "recipe.yaml")

    L.seed_everything(int(cfg.trainer.seed), workers=True, verbose=False)
    model = build_model(cfg, source=None if isinstance(recipe, DictConfig) else recipe)
    init_keys = start_from_run(model, cfg, run_dir, init, resume)
    for i, stage in enumerate(cfg.stages):
        check_stage(model, stage, i)
    if studies is None:
        studies = read_studies(cfg.data, split="train").studies
        if cfg.trainer.val_every_n_steps and validation_studies is None:
            validation_studies = read_studies(cfg.data, split="validate").studies
    if cfg.trainer.val_every_n_steps and not validation_studies:
        raise InputError("recipe key 'trainer.val_every_n_steps' is set but the data has no validate split "
                         "studies; add some (split column 'validate') or set trainer.val_every_n_steps=null")

    trained = set(state.trained_parts)
    if "encoder_head" in trained or any(s.task == "labels" for s in cfg.stages[:state.stage_index]):
        attach_encoder_head(model, len(CHEXPERT_OBSERVATIONS))
    if weights is not None:
        model.load_state_dict(weights, strict=False)

    result = RunResult(run_dir)
    total_done = sum(len(v) for v in state.losses.values())
    with GracefulInterrupt() as interrupt:
        for index, stage in enumerate(cfg.stages):
            if index < state.stage_index or (index == state.stage_index and state.stage_done):
                continue
            resuming_here = weights is not None and index == state.stage_index and state.step > 0
            if not resuming_here:
                state = TrainState(index, 0, False, sorted(trained), state.recipe_hash, losses=state.losses)
            budget = None if stop_after_steps is None else stop_after_steps - total_done
            try:
                stage_result, stopped = _run_stage(cfg, model, stage, index, studies, run_dir, state, trained,
                                                   extra if resuming_here else None, budget, result, interrupt,
                                                   validation_studies)
            except ImageError as exc:
                raise ImageError(f"{exc}; or set data.options.verify_images=true to skip (and count) unreadable "
                                 "images when the data is read") from None
            total_done += stage_result.steps
            result.stages.append(stage_result)
            if stopped or interrupt.requested:  # a Ctrl-C in the stage's last step stops before the next one
                result.stopped_early = True
                break
    if is_zero and not result.stopped_early:
        save_run(model, cfg, run_dir, state=with_initial_weights(model, part_state_dict(model, trained), init_keys))
    if is_zero:
        stages = summary_stages(run_dir / SUMMARY_FILE, [str(s.name) for s in cfg.stages],
                                [asdict(s) for s in result.stages], state.losses, resumed=resume)
        summary = {"stages": stages, "replica_checksums": result.replica_checksums,
                   "stopped_early": result.stopped_early, "losses": state.losses}
        write_json_atomic(run_dir / SUMMARY_FILE, summary)
    if interrupt.requested:
        # checkpointed and summarised: callers (the CLI, compare) unwind as from any Ctrl-C, and resume later
        raise TrainingInterrupted(run_dir)
    return result


def _run_stage(cfg: DictConfig, model: Any, stage: Any, index: int, studies: Sequence[Study], run_dir: Path,
               state: TrainState, trained: set[str], extra: dict | None, budget: int | None,
               result: RunResult, interrupt: GracefulInterrupt,
               validation_studies: Sequence[Study] | None = None) -> tuple[StageResult, bool]:
    """Fit one stage (from ``state.step`` when resuming); returns its result and whether the run stops here."""
    import lightning as L

    from radzoo.training.module import StageModule  # lightning: loaded only when a stage runs

    seed = int(cfg.trainer.seed) + index
    L.seed_everything(seed, workers=True, verbose=False)
    if stage.task == "labels":
        attach_encoder_head(model, len(CHEXPERT_OBSERVATIONS))
    model.set_trainable(stage.trainable)
    trained.update(stage.trainable)
    cache = fill_feature_cache(cfg, model, stage, studies, run_dir)
    dataset = StageDataset(studies, model, stage.task, features=cache, seed=seed,
                           uncertain=cfg.trainer.uncertain_labels, max_answer_tokens=cfg.trainer.max_answer_tokens,
                           source_weights=source_weights(cfg.data))
    # a resumed stage logs beside the interrupted part instead of overwriting it
    trainer = build_trainer(cfg, model, stage, run_dir, stage.name + (f"-from-step{state.step}" if state.step else ""))
    accumulate = int(cfg.trainer.accumulate_grad_batches)
    total = stage_steps(stage, batches_per_epoch(len(dataset), int(stage.batch_size), trainer.world_size),
                        accumulate, cfg.trainer.max_steps_per_stage)
    start = state.step
    stop_at = total if budget is None else min(total, start + max(budget, 0))
    every = int(cfg.trainer.checkpoint_every_n_steps)
    # the progress bar only redraws on a terminal: a log file (a batch job) gets a plain line with an ETA instead
    plain = bool(cfg.trainer.progress_bar) and not sys.stdout.isatty() and trainer.is_global_zero
    progress = Progress(stop_at - start, f"stage {stage.name}", log.info, unit="steps",
                        every_s=30.0) if plain else None
    losses = state.losses.setdefault(stage.name, [])
    del losses[start:]

    validation = stage_validation(cfg, model, stage, validation_studies, seed, lambda: part_state_dict(model, trained))

    def restore(optimizer: Any, scheduler: Any) -> None:
        if extra is not None:
            restore_optimizer(optimizer, extra, state.param_groups or [])
            scheduler.load_state_dict(state.scheduler)

    def on_step(module: StageModule, step: int) -> None:
        nonlocal stop_at, total
        losses.append(module.step_losses[-1])
        if validation is not None and validation.due(step, step >= stop_at):
            val_loss = validation.loss(module.loss, module.device)
            module.log("val/loss", val_loss)
            if trainer.is_global_zero:
                print(f"stage {stage.name}: step {step}, validation loss {val_loss:.4f}", flush=True)
            if validation.record(step, val_loss):  # early stopping: this stage is done here
                total = stop_at = step
        if progress is not None:
            progress.advance()
        if interrupt.requested:
            stop_at = step  # checkpoint this step and stop, as a step budget would
        if step >= stop_at:
            module.trainer.should_stop = True
        if module.trainer.is_global_zero and (step == stop_at or (every > 0 and step % every == 0)):
            state.step, state.stage_done = step, step >= total
            state.trained_parts, state.scheduler = sorted(trained), module.scheduler.state_dict()
            save_checkpoint(checkpoint_dir(run_dir), part_state_dict(model, trained), state, module.optimizer)

    module = StageModule(model, stage, dataset, total_steps=total, accumulate=accumulate, seed=seed,
                         start_step=start, num_workers=int(cfg.trainer.num_workers), restore=restore,
                         restore_rng=(lambda: restore_rng(extra)) if extra is not None else None, on_step=on_step,
                         optimizer=str(cfg.trainer.optimizer))
    if trainer.is_global_zero:
        log.info(f"stage {index + 1}/{len(cfg.stages)} {stage.name}: task {stage.task}, trains "
                 f"{', '.join(stage.trainable)}, {total} steps of {stage.batch_size} x {trainer.world_size} device(s)"
                 f" x {accumulate} accumulation" + (f", resuming at step {start}" if start else ""))
    began = time.perf_counter()
    if start < stop_at:
        # Ctrl-C is deferred to a step boundary on one process; ranks of a multi-process run stop as Lightning does
        interrupt.deferring = trainer.world_size == 1
        try:
            trainer.fit(module)
        finally:
            interrupt.deferring = False
    best = validation.restore_best() if validation is not None else None
    if best is not None and trainer.is_global_zero:
        print(f"stage {stage.name}: keeping the weights of step {best} (validation loss "
              f"{validation.best_loss:.4f})", flush=True)
        # a resume after this point must continue from the kept weights, not the last step's
        save_checkpoint(checkpoint_dir(run_dir), part_state_dict(model, trained), state, module.optimizer)
    model.to("cpu")
    steps = len(losses) - start
    result.replica_checksums[stage.name] = module.checksums
    mixed = dataset.group_counts(int(stage.batch_size), len(losses) * accumulate, seed=seed,
                                 world_size=trainer.world_size)  # the whole stage's, earlier attempts included
    outcome = StageResult(stage.name, steps, steps * int(stage.batch_size) * accumulate * trainer.world_size,
                          edge_mean(losses, True), edge_mean(losses, False), time.perf_counter() - began,
                          validation.history if validation is not None else [], best, mixed)
    if trainer.is_global_zero:
        if mixed:
            log.info(f"stage {stage.name}: examples by source/task: "
                     + ", ".join(f"{name} {count}" for name, count in mixed.items()))
        log.info(f"stage {stage.name}: loss {outcome.start_loss:.4f} -> {outcome.end_loss:.4f} "
                 f"({len(losses)}/{total} steps, {outcome.seconds:.1f} s)")
        if stop_at >= total:
            save_checkpoint(checkpoint_dir(run_dir, stage.name), part_state_dict(model, trained), state)
    return outcome, stop_at < total

