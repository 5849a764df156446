"""The image tower of an open_clip model as a radzoo encoder: built from its config, loaded from its weights.

Only the visual tower is built. ``open_clip.create_model`` would also build the text tower, and for
BiomedCLIP that is PubMedBERT, whose config it fetches from the hub (fails offline) and whose 110M
parameters an encoder never uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from radzoo.errors import InputError
from radzoo.files.weight_files import read_weights
from radzoo.plugins.encoders.base import CLIP_MEAN, CLIP_STD, EncoderBase, block_index
from radzoo.plugins.encoders.timm_encoder import TimmEncoder


class OpenClipViTEncoder(EncoderBase):
    """Patch tokens of an open_clip ``VisionTransformer`` block; ``final_norm`` applies ``ln_post`` to them."""

    def __init__(self, visual: nn.Module, select_layer: int = -2, drop_cls: bool = True, final_norm: bool = False,
                 mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD) -> None:
        super().__init__(visual.transformer.width, visual.image_size[0], visual.conv1.in_channels, mean, std)
        self.visual = visual
        self.select_layer = select_layer
        self.layer_index = block_index(len(visual.transformer.resblocks), select_layer)
        self.drop_cls = drop_cls
        self.final_norm = final_norm

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.visual.forward_intermediates(
            pixel_values, indices=[self.layer_index], stop_early=True, normalize_intermediates=self.final_norm,
            intermediates_only=True, output_fmt="NLC", output_extra_tokens=not self.drop_cls,
        )
        tokens = out["image_intermediates"][0]
        if not self.drop_cls:
            tokens = torch.cat([out["image_intermediates_prefix"][0], tokens], dim=1)
        return tokens


def build_visual_tower(model_cfg: Mapping[str, Any], in_chans: int = 3, quick_gelu: bool | None = None) -> nn.Module:
    """open_clip's own visual tower for a model config (the ``model_cfg`` of ``open_clip_config.json``)."""
    from open_clip.model import _build_vision_tower

    vision_cfg = dict(model_cfg["vision_cfg"])
    vision_cfg["timm_model_pretrained"] = False  # weights come from the checkpoint, never from the hub
    gelu = bool(model_cfg.get("quick_gelu", False)) if quick_gelu is None else quick_gelu
    visual = _build_vision_tower(model_cfg["embed_dim"], vision_cfg, quick_gelu=gelu)
    if in_chans != 3:
        if not hasattr(visual, "conv1"):
            raise InputError(f"in_chans={in_chans} needs an open_clip ViT tower (conv1 patch embedding)")
        old = visual.conv1  # CXR-LLaVA's copy of this class only changes the patch conv's input channels
        visual.conv1 = nn.Conv2d(in_chans, old.out_channels, old.kernel_size, old.stride, bias=False)
    return visual


def visual_state(state: Mapping[str, torch.Tensor], prefix: str = "visual.") -> dict[str, torch.Tensor]:
    """The visual tower's tensors of a full open_clip state dict, prefix removed."""
    visual = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not visual:
        sample = ", ".join(list(state)[:3])
        raise InputError(f"the checkpoint has no '{prefix}*' tensors (first keys: {sample}); "
                         "expected an open_clip CLIP state dict")
    return visual


def load_matching(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load every tensor strictly; a mismatch names the source and the first offending keys or shapes."""
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise InputError(f"the weights of {source} do not fit the architecture: {exc}") from exc
    if missing or unexpected:
        raise InputError(f"the weights of {source} do not fit the architecture: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")


def load_open_clip_encoder(
    model_cfg: Mapping[str, Any],
    checkpoint: str | Path | None,
    preprocess_cfg: Mapping[str, Any] | None = None,
    select_layer: int = -2,
    drop_cls: bool = True,
    quick_gelu: bool | None = None,
    seed: int | None = None,
) -> EncoderBase:
    """Build the visual tower of ``model_cfg``, load ``checkpoint``'s ``visual.*`` tensors, wrap it.

    ``checkpoint=None`` keeps a random (``seed``-ed) initialisation: architecture tests and ablations.
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        visual = build_visual_tower(model_cfg, quick_gelu=quick_gelu)
    if checkpoint is not None:
        load_matching(visual, visual_state(read_weights(checkpoint)), f"{checkpoint} (open_clip config)")
    preprocess_cfg = preprocess_cfg or {}
    mean, std = preprocess_cfg.get("mean", CLIP_MEAN), preprocess_cfg.get("std", CLIP_STD)
    if hasattr(visual, "trunk"):  # a timm trunk (BiomedCLIP, LLaVA-Rad): the projection head is not used
        return TimmEncoder(visual.trunk, select_layer=select_layer, drop_cls=drop_cls, mean=mean, std=std)
    if hasattr(visual, "transformer"):
        return OpenClipViTEncoder(visual, select_layer=select_layer, drop_cls=drop_cls, mean=mean, std=std)
    raise InputError(f"unsupported open_clip image tower {type(visual).__name__}: radzoo needs a ViT "
                     "(patch tokens), not a ResNet")
