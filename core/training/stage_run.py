"""One training stage as an object with named steps: set up (data, trainer, step budget), fit (each optimizer
step: loss, validation, progress, interruption, checkpoint), and finish (kept weights, result, stage checkpoint).

``train`` (radzoo.training.pipeline) runs one ``StageRun`` per stage; everything a step changes lives on the
object, so no closure rebinds shared state.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.readers.mixture import source_weights
from radzoo.data.study import Study
from radzoo.progress import Progress
from radzoo.training.checkpoints import TrainState, checkpoint_dir, restore_optimizer, restore_rng, save_checkpoint
from radzoo.training.dataset import StageDataset, batches_per_epoch
from radzoo.training.interrupt import GracefulInterrupt
from radzoo.training.stages import attach_encoder_head, part_state_dict, stage_steps
from radzoo.training.summary import edge_mean
from radzoo.training.trainer import build_trainer, fill_feature_cache
from radzoo.training.validation import stage_validation

log = logging.getLogger(__name__)


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


class StageRun:
    """Fits stage ``index`` of ``cfg`` into ``model`` (from ``state.step`` when resuming), checkpointing in
    ``run_dir``; ``trained`` collects the parts trained so far, ``extra`` is a resumed optimizer's state."""

    def __init__(self, cfg: DictConfig, model: Any, index: int, run_dir: Path, state: TrainState,
                 trained: set[str], interrupt: GracefulInterrupt, extra: dict | None = None) -> None:
        self.cfg, self.model, self.index, self.run_dir = cfg, model, index, run_dir
        self.stage = cfg.stages[index]
        self.state, self.trained, self.interrupt, self.extra = state, trained, interrupt, extra
        self.seed = int(cfg.trainer.seed) + index
        self.accumulate = int(cfg.trainer.accumulate_grad_batches)
        self.every = int(cfg.trainer.checkpoint_every_n_steps)
        self.start = state.step
        self.losses: list[float] = state.losses.setdefault(self.stage.name, [])
        del self.losses[self.start:]

    def set_up(self, studies: Sequence[Study], validation_studies: Sequence[Study] | None,
               budget: int | None) -> None:
        """Seed, attach the label head, freeze, build the data set and the trainer, fix the step budget."""
        import lightning as L  # lightning: loaded only when a stage runs

        cfg, model, stage = self.cfg, self.model, self.stage
        L.seed_everything(self.seed, workers=True, verbose=False)
        if stage.task == "labels":
            attach_encoder_head(model, len(CHEXPERT_OBSERVATIONS))
        model.set_trainable(stage.trainable)
        self.trained.update(stage.trainable)
        cache = fill_feature_cache(cfg, model, stage, studies, self.run_dir)
        self.dataset = StageDataset(studies, model, stage.task, features=cache, seed=self.seed,
                                    uncertain=cfg.trainer.uncertain_labels,
                                    max_answer_tokens=cfg.trainer.max_answer_tokens,
                                    source_weights=source_weights(cfg.data))
        # a resumed stage logs beside the interrupted part instead of overwriting it
        self.trainer = build_trainer(cfg, model, stage, self.run_dir,
                                     stage.name + (f"-from-step{self.start}" if self.start else ""))
        per_epoch = batches_per_epoch(len(self.dataset), int(stage.batch_size), self.trainer.world_size)
        self.total = stage_steps(stage, per_epoch, self.accumulate, cfg.trainer.max_steps_per_stage)
        self.stop_at = self.total if budget is None else min(self.total, self.start + max(budget, 0))
        # the progress bar only redraws on a terminal: a log file (a batch job) gets a plain line with an ETA
        plain = bool(cfg.trainer.progress_bar) and not sys.stdout.isatty() and self.trainer.is_global_zero
        self.progress = Progress(self.stop_at - self.start, f"stage {stage.name}", log.info, unit="steps",
                                 every_s=30.0) if plain else None
        self.validation = stage_validation(cfg, model, stage, validation_studies, self.seed, self.weights)

    def weights(self) -> dict[str, Any]:
        """The weights of every part trained so far (what checkpoints and the finished run store)."""
        return part_state_dict(self.model, self.trained)

    def restore(self, optimizer: Any, scheduler: Any) -> None:
        """Give a resumed stage's optimizer and scheduler their saved state."""
        if self.extra is not None:
            restore_optimizer(optimizer, self.extra, self.state.param_groups or [])
            scheduler.load_state_dict(self.state.scheduler)

    def on_step(self, module: Any, step: int) -> None:
        """After each optimizer step: record the loss, validate, advance progress, stop, checkpoint."""
        self.losses.append(module.step_losses[-1])
        self._validate(module, step)
        if self.progress is not None:
            self.progress.advance()
        if self.interrupt.requested:
            self.stop_at = step  # checkpoint this step and stop, as a step budget would
        if step >= self.stop_at:
            module.trainer.should_stop = True
        if module.trainer.is_global_zero and (step == self.stop_at or (self.every > 0 and step % self.every == 0)):
            self._checkpoint(module, step)

    def _validate(self, module: Any, step: int) -> None:
        if self.validation is None or not self.validation.due(step, step >= self.stop_at):
            return
        val_loss = self.validation.loss(module.loss, module.device)
        module.log("val/loss", val_loss)
        if self.trainer.is_global_zero:
            log.info(f"stage {self.stage.name}: step {step}, validation loss {val_loss:.4f}")
        if self.validation.record(step, val_loss):  # early stopping: this stage is done here
            self.total = self.stop_at = step

    def _checkpoint(self, module: Any, step: int) -> None:
        state = self.state
        state.step, state.stage_done = step, step >= self.total
        state.trained_parts, state.scheduler = sorted(self.trained), module.scheduler.state_dict()
        save_checkpoint(checkpoint_dir(self.run_dir), self.weights(), state, module.optimizer)

    def fit(self) -> float:
        """Run the trainer over the stage's remaining steps; returns when it began (for the stage's wall time)."""
        from radzoo.training.module import StageModule  # lightning: loaded only when a stage runs

        stage, trainer, extra = self.stage, self.trainer, self.extra
        self.module = StageModule(
            self.model, stage, self.dataset, total_steps=self.total, accumulate=self.accumulate, seed=self.seed,
            start_step=self.start, num_workers=int(self.cfg.trainer.num_workers), restore=self.restore,
            restore_rng=(lambda: restore_rng(extra)) if extra is not None else None, on_step=self.on_step,
            optimizer=str(self.cfg.trainer.optimizer))
        if trainer.is_global_zero:
            log.info(f"stage {self.index + 1}/{len(self.cfg.stages)} {stage.name}: task {stage.task}, trains "
                     f"{', '.join(stage.trainable)}, {self.total} steps of {stage.batch_size} x "
                     f"{trainer.world_size} device(s) x {self.accumulate} accumulation"
                     + (f", resuming at step {self.start}" if self.start else ""))
        began = time.perf_counter()
        if self.start < self.stop_at:
            # Ctrl-C is deferred to a step boundary on one process; ranks of a multi-process run stop as Lightning does
            self.interrupt.deferring = trainer.world_size == 1
            try:
                trainer.fit(self.module)
            finally:
                self.interrupt.deferring = False
        return began

    def finish(self, began: float, replica_checksums: dict[str, list[float]]) -> tuple[StageResult, bool]:
        """Keep the best weights (trainer.keep_best), note the stage's result and checkpoint a finished stage;
        returns the result and whether the run stops after this stage."""
        stage, trainer = self.stage, self.trainer
        best = self.validation.restore_best() if self.validation is not None else None
        if best is not None and trainer.is_global_zero:
            log.info(f"stage {stage.name}: keeping the weights of step {best} (validation loss "
                     f"{self.validation.best_loss:.4f})")
            # a resume after this point must continue from the kept weights, not the last step's
            save_checkpoint(checkpoint_dir(self.run_dir), self.weights(), self.state, self.module.optimizer)
        self.model.to("cpu")
        steps = len(self.losses) - self.start
        replica_checksums[stage.name] = self.module.checksums
        mixed = self.dataset.group_counts(int(stage.batch_size), len(self.losses) * self.accumulate, seed=self.seed,
                                          world_size=trainer.world_size)  # the whole stage's, earlier attempts too
        outcome = StageResult(stage.name, steps, steps * int(stage.batch_size) * self.accumulate * trainer.world_size,
                              edge_mean(self.losses, True), edge_mean(self.losses, False),
                              time.perf_counter() - began,
                              self.validation.history if self.validation is not None else [], best, mixed)
        if trainer.is_global_zero:
            if mixed:
                log.info(f"stage {stage.name}: examples by source/task: "
                         + ", ".join(f"{name} {count}" for name, count in mixed.items()))
            log.info(f"stage {stage.name}: loss {outcome.start_loss:.4f} -> {outcome.end_loss:.4f} "
                     f"({len(self.losses)}/{self.total} steps, {outcome.seconds:.1f} s)")
            if self.stop_at >= self.total:
                save_checkpoint(checkpoint_dir(self.run_dir, stage.name), self.weights(), self.state)
        return outcome, self.stop_at < self.total
