"""Label pre-training of an encoder once, exported as a weights file that several recipes load.

CXR-LLaVA pre-trains its vision encoder on labelled CXRs before any report training. Doing that once and
handing the result to every recipe of a comparison (``encoder.args.path=...``) gives each tiny model real
features at the cost of one training run. The file carries what it was trained on in its metadata, so a
leaderboard can say so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from radzoo.errors import InputError, RunFailedError
from radzoo.recipe.load import apply_overrides, load_recipe
from radzoo.runs.layout import RunDir

log = logging.getLogger(__name__)

ENCODER_FILE = "encoder.safetensors"
TRAINED_ON_KEY = "radzoo.trained_on"  # safetensors metadata: a one-line account of the weights' training


def trained_on(path: str | Path) -> str | None:
    """The ``radzoo.trained_on`` note of a safetensors weights file (None for other files or none set)."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return (f.metadata() or {}).get(TRAINED_ON_KEY)


def label_pretraining_recipe(recipe: str | Path | DictConfig, overrides: Sequence[str] = (), *,
                             epochs: int, lr: float, batch_size: int = 32) -> DictConfig:
    """``recipe`` reduced to one stage that trains its encoder (and a label head) on the data's CheXpert labels."""
    cfg = apply_overrides(recipe.copy(), list(overrides)) if isinstance(recipe, DictConfig) else \
        load_recipe(recipe, list(overrides))
    cfg.name = f"{cfg.name}-encoder-labels"
    stage = cfg.stages[0].copy()  # a StageConfig node: the structured list only takes those
    stage.update({"name": "pretrain_encoder", "trainable": ["encoder", "encoder_head"], "task": "labels",
                  "lr": float(lr), "epochs": int(epochs), "max_steps": None, "batch_size": int(batch_size)})
    cfg.stages = [stage]
    cfg.trainer.feature_cache = False  # the encoder trains: nothing to cache
    return cfg


def export_encoder(run_dir: str | Path, path: str | Path, note: str) -> Path:
    """Write the run's encoder weights as a plain timm state dict (``encoder.model.`` prefix removed)."""
    # torch: comparison imports this module at start-up
    from radzoo.files.weight_files import load_weights, save_weights

    prefix = "encoder.model."
    state = {k[len(prefix):]: v for k, v in load_weights(RunDir(Path(run_dir)).weights).items()
             if k.startswith(prefix)}
    if not state:
        raise InputError(f"{run_dir}: the run holds no trained encoder weights ({prefix}*); pre-train with a "
                         "timm encoder (e.g. tiny-vit) in a stage whose trainable parts include 'encoder'")
    return save_weights(state, path, metadata={TRAINED_ON_KEY: note})


def pretrain_encoder(cfg: DictConfig, out_dir: str | Path) -> Path:
    """Train ``cfg`` (a :func:`label_pretraining_recipe`) into ``out_dir`` unless done; return the encoder file.

    Rerunning resumes an interrupted pre-training and reuses a finished one.
    """
    from radzoo.training.checkpoints import has_checkpoint  # torch: comparison imports this module at start-up
    from radzoo.training.pipeline import train

    out_dir = Path(out_dir)
    target = out_dir / ENCODER_FILE
    if target.is_file():
        log.info(f"encoder pre-training: reusing {target}")
        return target
    resume = has_checkpoint(out_dir)
    stage = cfg.stages[0]
    log.info(f"encoder pre-training: {cfg.encoder.name} on {stage.epochs} epochs of CheXpert labels "
             f"({'resuming' if resume else 'from scratch'}) -> {out_dir}")
    train(cfg, out_dir, resume=resume)
    summary = json.loads(RunDir(Path(out_dir)).summary.read_text(encoding="utf-8"))
    if summary.get("stopped_early"):
        raise RunFailedError(f"{out_dir}: encoder pre-training stopped early; rerun to resume it")
    steps = sum(s["steps"] for s in summary["stages"])
    note = f"{cfg.data.format} CXR labels ({steps} steps of label pre-training)"
    return export_encoder(out_dir, target, note)
