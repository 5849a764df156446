"""The Lightning Trainer a stage runs on: strategy, precision, loggers, progress bar, gradient checkpointing."""

from __future__ import annotations

import importlib.util
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from radzoo.data.images import load_image
from radzoo.data.study import Study
from radzoo.errors import InputError
from radzoo.model.vlm import RadiologyVLM
from radzoo.training.feature_cache import FeatureCache


def build_strategy(cfg: DictConfig, model: RadiologyVLM) -> Any:
    """``trainer.strategy`` as Lightning takes it; FSDP wraps each LLM decoder block."""
    name = str(cfg.trainer.strategy)
    if name == "fsdp":
        from lightning.pytorch.strategies import FSDPStrategy

        blocks = set(getattr(model.llm, "block_classes", set()))
        if not blocks:
            raise InputError(f"trainer.strategy=fsdp: the LLM {cfg.llm.name!r} names no decoder block classes "
                             "(llm.block_classes) to wrap; use ddp")
        checkpointing = blocks if cfg.trainer.gradient_checkpointing else None
        return FSDPStrategy(auto_wrap_policy=blocks, activation_checkpointing_policy=checkpointing,
                            use_orig_params=True)
    require_strategy_package(name)
    return name


def require_strategy_package(strategy: str) -> None:
    """DeepSpeed is passed through to Lightning but is not a radzoo dependency: say so before training."""
    if strategy.startswith("deepspeed") and importlib.util.find_spec("deepspeed") is None:
        raise InputError(f"trainer.strategy={strategy} needs the deepspeed package, which is not installed: "
                         "`pip install deepspeed`, or use trainer.strategy=ddp / fsdp")


def enable_gradient_checkpointing(model: RadiologyVLM) -> None:
    """Recompute activations in the backward pass (LLM and, when it trains, a timm encoder)."""
    lm = model.language_model
    # transformers 5 renamed it (the old name warns, and goes in v6); older releases only have the old one
    if hasattr(lm, "activation_checkpointing_enable"):
        lm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    inner = getattr(model.encoder, "model", None)
    if hasattr(inner, "set_grad_checkpointing"):
        inner.set_grad_checkpointing(True)


def _progress_bar(stage_name: str) -> Any:
    """Lightning's RichProgressBar (elapsed time, ETA, it/s) naming the stage instead of a logger version."""
    from lightning.pytorch.callbacks import RichProgressBar

    class StageProgressBar(RichProgressBar):
        def _get_train_description(self, current_epoch: int) -> str:
            # a stage is one Lightning epoch of its own steps: "Epoch 0/0" on a 3-epoch stage misleads
            return f"stage {stage_name}"

        def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
            metrics = super().get_metrics(trainer, pl_module)
            metrics.pop("v_num", None)
            return {"stage": stage_name, **metrics}

    return StageProgressBar(leave=True)


def _wandb_logger(cfg: DictConfig, run_dir: Path, log_version: str) -> Any:
    """Weights & Biases (the ``[wandb]`` extra): one wandb run per stage, grouped by the run directory's name;
    ``WANDB_MODE=offline`` keeps it on disk (``RUN_DIR/wandb``)."""
    if importlib.util.find_spec("wandb") is None:
        raise InputError("recipe key 'trainer.loggers' names wandb, which is not installed: "
                         "`pip install 'radzoo[wandb]'`, or use csv / tensorboard")
    from lightning.pytorch.loggers import WandbLogger

    return WandbLogger(name=f"{run_dir.name}-{log_version}", group=run_dir.name, project=f"radzoo-{cfg.name}",
                       save_dir=str(run_dir), config=OmegaConf.to_container(cfg, resolve=True))


def quiet_lightning() -> None:
    """Lightning's per-stage notices (devices found, tips and adverts, "fit stopped") and a torch deprecation
    inside Lightning would bury radzoo's own stage lines; its warnings and errors still show."""
    import lightning.pytorch  # noqa: F401  (it sets its logger's level on import: set ours after)

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def build_trainer(cfg: DictConfig, model: RadiologyVLM, stage: Any, run_dir: Path, log_version: str) -> Any:
    """A Trainer for one stage: one Lightning epoch over the stage's seeded micro-batches."""
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    quiet_lightning()

    t = cfg.trainer
    # off a terminal the bar cannot redraw; train prints plain progress lines instead, never both
    bar = bool(t.progress_bar) and sys.stdout.isatty()
    if t.gradient_checkpointing and t.strategy != "fsdp":
        enable_gradient_checkpointing(model)
    loggers = [CSVLogger(run_dir, name="logs", version=log_version) if kind == "csv"
               else TensorBoardLogger(run_dir, name="tensorboard", version=log_version) if kind == "tensorboard"
               else _wandb_logger(cfg, run_dir, log_version) for kind in t.loggers]
    return L.Trainer(
        accelerator=t.accelerator, devices=t.devices, strategy=build_strategy(cfg, model),
        precision=str(t.precision), accumulate_grad_batches=int(t.accumulate_grad_batches),
        gradient_clip_val=t.gradient_clip_val,
        max_epochs=1, logger=loggers or False, log_every_n_steps=int(t.log_every_n_steps),
        callbacks=[_progress_bar(stage.name)] if bar else [], enable_progress_bar=bar,
        enable_checkpointing=False, enable_model_summary=False,
        use_distributed_sampler=False, num_sanity_val_steps=0, limit_val_batches=0,
        deterministic=False, default_root_dir=str(run_dir),
    )


def fill_feature_cache(cfg: DictConfig, model: RadiologyVLM, stage: Any, studies: Sequence[Study],
                       run_dir: Path) -> FeatureCache | None:
    """The stage's feature cache, filled, when ``trainer.feature_cache`` is on and the encoder is frozen."""
    if not cfg.trainer.feature_cache or "encoder" in stage.trainable:
        return None
    import torch

    root = Path(cfg.trainer.feature_cache_dir) if cfg.trainer.feature_cache_dir else run_dir / "feature_cache"
    cache = FeatureCache(root, model.encoder)
    transform = model.encoder.image_transform(True)
    use_gpu = torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda")
    images = [p for s in studies for p in (model.prompt.render_study(s)[1] if stage.task != "labels" else [s.image])]
    cache.fill(images, lambda p: transform(load_image(p)),
               device="cuda" if use_gpu else "cpu")
    return cache
