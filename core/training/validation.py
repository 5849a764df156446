"""Validation loss during a stage: the loss on the validate split every N steps, the best weights kept,
and early stopping after ``patience`` validations without improvement (all off unless the recipe asks).

Off by default (``trainer.val_every_n_steps: null``), so the demo's runs and numbers stay as they were.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from radzoo.data.study import Study
from radzoo.training.dataset import StageDataset, collate


class StageValidation:
    """Validates one stage's model on ``studies``; remembers the best loss and, if asked, its weights."""

    def __init__(self, model: Any, studies: Sequence[Study], stage: Any, *, every: int, seed: int,
                 uncertain: str, max_answer_tokens: int | None, keep_best: bool, patience: int | None,
                 trained_state: Callable[[], dict[str, torch.Tensor]]) -> None:
        self.model, self.every, self.keep_best, self.patience = model, int(every), keep_best, patience
        self.dataset = StageDataset(studies, model, stage.task, seed=seed, uncertain=uncertain,
                                    max_answer_tokens=max_answer_tokens)
        self.dataset.transform = model.encoder.image_transform(False)  # no training augmentation
        self.batch_size = int(stage.batch_size)
        self.trained_state = trained_state
        self.history: list[tuple[int, float]] = []
        self.best_loss, self.best_step, self.best_state = math.inf, None, None
        self.bad_rounds = 0

    def due(self, step: int, last: bool) -> bool:
        return bool(self.dataset.items) and (step % self.every == 0 or last)

    @torch.no_grad()
    def loss(self, loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor], device: torch.device) -> float:
        """Mean loss over the validate split (examples weighted by batch size)."""
        was_training = self.model.training
        self.model.eval()
        total, count = 0.0, 0
        pad_id = self.model.tokenizer.pad_token_id
        try:
            for start in range(0, len(self.dataset), self.batch_size):
                items = [self.dataset[i] for i in range(start, min(start + self.batch_size, len(self.dataset)))]
                batch = {k: v.to(device) for k, v in collate(items, pad_id).items()}
                total += float(loss_fn(batch)) * len(items)
                count += len(items)
        finally:
            self.model.train(was_training)
        return total / max(count, 1)

    def record(self, step: int, loss: float) -> bool:
        """Note the loss at ``step``; True when early stopping says the stage should end here."""
        self.history.append((step, loss))
        if loss < self.best_loss:
            self.best_loss, self.best_step, self.bad_rounds = loss, step, 0
            if self.keep_best:
                self.best_state = {k: v.clone() for k, v in self.trained_state().items()}
            return False
        self.bad_rounds += 1
        return self.patience is not None and self.bad_rounds >= self.patience

    def restore_best(self) -> int | None:
        """Load the best weights back (``keep_best``); returns their step, None when there is nothing to load."""
        if not self.keep_best or self.best_state is None:
            return None
        self.model.load_state_dict(self.best_state, strict=False)
        return self.best_step


def stage_validation(cfg: Any, model: Any, stage: Any, studies: Sequence[Study] | None, seed: int,
                     trained_state: Callable[[], dict[str, torch.Tensor]]) -> StageValidation | None:
    """The stage's validation as the recipe's ``trainer`` section sets it; None when validation is off."""
    t = cfg.trainer
    if not t.val_every_n_steps:
        return None
    return StageValidation(model, studies or [], stage, every=int(t.val_every_n_steps), seed=seed,
                           uncertain=t.uncertain_labels, max_answer_tokens=t.max_answer_tokens,
                           keep_best=bool(t.keep_best), patience=t.early_stopping_patience,
                           trained_state=trained_state)
