"""Training stages: what a stage trains, how many optimizer steps it takes, its optimizer and LR schedule."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from radzoo.errors import InputError
from radzoo.model.vlm import RadiologyVLM


def attach_encoder_head(model: RadiologyVLM, num_labels: int) -> nn.Module:
    """CXR-LLaVA's label pre-training head: mean-pooled patch tokens -> one logit per CheXpert observation."""
    if model.encoder_head is None:
        model.encoder_head = nn.Linear(int(model.encoder.embed_dim), num_labels)
    return model.encoder_head


def check_stage(model: RadiologyVLM, stage: Any, index: int) -> None:
    """Refuse a stage that cannot train: nothing trainable, or a task its trainable parts cannot learn."""
    where = f"recipe key 'stages[{index}]' ({stage.name})"
    if not stage.trainable:
        raise InputError(f"{where}: 'trainable' is empty; list the parts to train (adapter, lora, llm, ...)")
    if stage.task == "labels" and not {"encoder", "encoder_head"} & set(stage.trainable):
        raise InputError(f"{where}: task 'labels' trains the encoder and/or its label head; add encoder_head "
                         "(and encoder) to 'trainable'")
    if stage.task != "labels" and set(stage.trainable) <= {"encoder_head"}:
        raise InputError(f"{where}: task {stage.task!r} does not use the encoder_head; train adapter/lora/llm")
    if stage.epochs is None and stage.max_steps is None:
        raise InputError(f"{where}: set 'epochs' or 'max_steps'")


def stage_steps(stage: Any, batches_per_epoch: int, accumulate: int, cap: int | None = None) -> int:
    """Optimizer steps of a stage: ``max_steps`` when set, else epochs x batches / accumulation (rounded up),
    at most ``cap`` (``trainer.max_steps_per_stage``)."""
    if stage.max_steps is not None:
        steps = int(stage.max_steps)
    else:
        steps = max(1, math.ceil(int(stage.epochs) * batches_per_epoch / accumulate))
    return steps if cap is None else min(steps, int(cap))


def lr_factor(step: int, total: int, warmup_ratio: float, kind: str) -> float:
    """Multiplier of the base LR after ``step`` optimizer steps: linear warmup, then cosine/linear/constant."""
    warmup = math.ceil(total * warmup_ratio) if warmup_ratio > 0 else 0
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if kind == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_adamw(groups: list[dict[str, Any]], lr: float, kind: str = "adamw") -> torch.optim.Optimizer:
    """``trainer.optimizer``: torch AdamW, its fused CUDA kernel, or bitsandbytes' 8-bit AdamW (optional)."""
    if kind == "adamw-8bit":
        try:
            import bitsandbytes
        except ImportError:
            raise InputError("trainer.optimizer=adamw-8bit needs the bitsandbytes package, which is not installed: "
                             "`pip install bitsandbytes`, or use trainer.optimizer=adamw") from None
        return bitsandbytes.optim.AdamW8bit(groups, lr=lr)
    if kind == "adamw-fused" and not torch.cuda.is_available():
        raise InputError("trainer.optimizer=adamw-fused runs on CUDA only; use trainer.optimizer=adamw on this "
                         "machine")
    return torch.optim.AdamW(groups, lr=lr, fused=True if kind == "adamw-fused" else None)


def build_optimizer(model: RadiologyVLM, stage: Any, total_steps: int, kind: str = "adamw"
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (``kind``: see make_adamw) over the trainable parameters (no decay on biases and norms) and a
    per-step LR schedule."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    groups = [{"params": decay, "weight_decay": float(stage.weight_decay)},
              {"params": no_decay, "weight_decay": 0.0}]
    optimizer = make_adamw([g for g in groups if g["params"]], float(stage.lr), kind)
    kind, warmup = str(stage.scheduler), float(stage.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total_steps, warmup, kind))
    return optimizer, scheduler


def part_state_dict(model: RadiologyVLM, parts: set[str]) -> dict[str, torch.Tensor]:
    """Weights of ``parts`` by module name: what a checkpoint keeps once those parts were trained."""
    wanted = {id(p) for part in parts for _, p in model.part_parameters(part)}
    names = {n for n, p in model.named_parameters() if id(p) in wanted}
    return {n: t.detach().cpu() for n, t in model.state_dict().items() if n in names}
