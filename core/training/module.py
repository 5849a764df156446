"""The LightningModule of one training stage: loss, optimizer/schedule, seeded data order, checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from radzoo.model.vlm import RadiologyVLM
from radzoo.training.dataset import StageDataset, collate
from radzoo.training.stages import build_optimizer


class StageModule(L.LightningModule):
    """Trains ``model`` on one stage's dataset for ``total_steps`` optimizer steps, from step ``start_step``."""

    def __init__(self, model: RadiologyVLM, stage: Any, dataset: StageDataset, *, total_steps: int,
                 accumulate: int, seed: int, start_step: int = 0, num_workers: int = 0,
                 restore: Callable[[torch.optim.Optimizer, Any], None] | None = None,
                 restore_rng: Callable[[], None] | None = None,
                 on_step: Callable[[StageModule, int], None] | None = None, optimizer: str = "adamw") -> None:
        super().__init__()
        self.model, self.stage, self.dataset = model, stage, dataset
        self.total_steps, self.accumulate, self.seed = total_steps, accumulate, seed
        self.start_step, self.num_workers = start_step, num_workers
        self.restore, self.restore_rng, self.on_step = restore, restore_rng, on_step
        self.step_losses: list[float] = []
        self._window: list[float] = []
        self.optimizer_kind = optimizer
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.checksums: list[float] = []

    def train_dataloader(self) -> DataLoader:
        sampler = self.dataset.batch_sampler(int(self.stage.batch_size), self.total_steps * self.accumulate,
                                             seed=self.seed, start=self.start_step * self.accumulate,
                                             rank=self.trainer.global_rank, world_size=self.trainer.world_size)
        pad_id = self.model.tokenizer.pad_token_id
        # its own generator: creating the loader's iterator must not draw from the global RNG
        return DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.num_workers,
                          collate_fn=lambda items: collate(items, pad_id),
                          generator=torch.Generator().manual_seed(self.seed))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.stage.task == "labels":
            return self.label_loss(batch)
        return self.model(**batch).loss

    def label_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Multi-label BCE of the encoder head on mean-pooled patch tokens, over known labels only."""
        feats = batch.get("image_features")
        if feats is None:
            feats = self.model.encoder(batch["pixel_values"])
        logits = self.model.encoder_head(feats.mean(dim=1).to(self.model.encoder_head.weight.dtype))
        mask = batch["label_mask"]
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), batch["label_targets"], reduction="none")
        return (bce * mask).sum() / mask.sum().clamp(min=1.0)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self._window.append(float(loss.detach()))
        self.log("train/loss", loss, prog_bar=True, batch_size=len(next(iter(batch.values()))))
        return loss

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # a resumed stage takes up the RNG where the interrupted run left it, right before its next batch
        if batch_idx == 0 and self.restore_rng is not None:
            self.restore_rng()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if len(self._window) < self.accumulate and batch_idx + 1 < len(self.trainer.train_dataloader):
            return
        self.step_losses.append(sum(self._window) / len(self._window))
        self._window = []
        self.log("train/lr", self.scheduler.get_last_lr()[0], prog_bar=False)
        if self.on_step is not None:
            self.on_step(self, self.start_step + len(self.step_losses))

    def configure_optimizers(self) -> dict[str, Any]:
        self.optimizer, self.scheduler = build_optimizer(self.model, self.stage, self.total_steps,
                                                           self.optimizer_kind)
        if self.restore is not None:
            self.restore(self.optimizer, self.scheduler)
        return {"optimizer": self.optimizer, "lr_scheduler": {"scheduler": self.scheduler, "interval": "step"}}

    def on_train_end(self) -> None:
        if self.trainer.world_size > 1:
            self.checksums = self.replica_checksum()

    def replica_checksum(self) -> list[float]:
        """One number per rank summarising the trainable weights (equal when DDP replicas agree)."""
        total = sum(float(p.detach().double().sum()) for p in self.model.parameters() if p.requires_grad)
        gathered = self.all_gather(torch.tensor([total], dtype=torch.float64, device=self.device))
        return [float(x) for x in gathered.flatten().tolist()]
