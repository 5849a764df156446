"""Released vision towers saved as transformers directories (``CLIPVisionModel``, ``Dinov2Model``) for radzoo encoders.

The release's vision config and tensors (under their released names) are written, then loaded back with
transformers and checked strictly: a missing, extra or mis-shaped tensor is a ReleaseError, never a silently
re-initialised weight. The release's image processor config goes beside them, so the ``clip`` and
``rad-dino`` encoders read the crop size and mean/std from it.
"""

from __future__ import annotations

import json

import shutil
from pathlib import Path

import torch

from radzoo.runs.importers.run_writer import ReleaseError, cast

# Dinov2Backbone-only fields (MAIRA-2's vision_config); the rest configures a Dinov2Model
BACKBONE_FIELDS = ("out_features", "out_indices", "stage_names", "apply_layernorm", "reshape_hidden_states")
CONFIG_META = ("model_type", "architectures", "_name_or_path", "transformers_version")


def _save_checked(model_class: type, config: object, tower: dict[str, torch.Tensor], src: Path, out_dir: Path,
                  dtype: torch.dtype | None) -> None:
    """Save config and tensors (names as released), then load them with transformers and refuse any misfit.

    Loading through ``from_pretrained`` applies transformers' own renames (transformers 5 names Dinov2's
    attention ``q_proj`` where checkpoints say ``attention.query``), so the file keeps the released names.
    """
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: cast(v, dtype) for k, v in tower.items() if not k.endswith("position_ids")}
    config.architectures = [model_class.__name__]
    config.dtype = next(iter(state.values())).dtype
    config.save_pretrained(out_dir)
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    try:
        _, info = model_class.from_pretrained(out_dir, output_loading_info=True)
    except (RuntimeError, ValueError, OSError) as exc:
        raise ReleaseError(f"the vision tower does not fit its vision_config: {' '.join(str(exc).split())[:300]}") \
            from None
    missing = [k for k in info["missing_keys"] if not k.endswith("position_ids")]
    unexpected, mismatched = list(info["unexpected_keys"]), list(info["mismatched_keys"])
    if missing or unexpected or mismatched:
        raise ReleaseError(f"the vision tower does not fit its vision_config: missing {sorted(missing)[:3]}, "
                           f"unexpected {sorted(unexpected)[:3]}, mismatched {mismatched[:3]}")
    if (src / "preprocessor_config.json").is_file():
        shutil.copyfile(src / "preprocessor_config.json", out_dir / "preprocessor_config.json")
    elif (src / "processor_config.json").is_file():  # transformers 5 saves the image processor inside it
        image_processor = json.loads((src / "processor_config.json").read_text()).get("image_processor")
        if isinstance(image_processor, dict):
            (out_dir / "preprocessor_config.json").write_text(json.dumps(image_processor, indent=2) + "\n",
                                                              encoding="utf-8")


def write_clip_tower(vision: dict, tower: dict[str, torch.Tensor], src: Path, out_dir: Path,
                     dtype: torch.dtype | None) -> None:
    """A ``CLIPVisionModel`` directory (for the ``clip`` encoder's ``hf_path``)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(**{k: v for k, v in vision.items() if k not in CONFIG_META})
    _save_checked(CLIPVisionModel, config, tower, src, out_dir, dtype)


def write_dinov2_tower(vision: dict, tower: dict[str, torch.Tensor], src: Path, out_dir: Path,
                       dtype: torch.dtype | None) -> None:
    """A ``Dinov2Model`` directory (for the ``rad-dino`` encoder's ``path``); backbone weights load as they are."""
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(**{k: v for k, v in vision.items() if k not in BACKBONE_FIELDS + CONFIG_META})
    _save_checked(Dinov2Model, config, tower, src, out_dir, dtype)
