"""transformers vision towers: RAD-DINO (Dinov2, MAIRA's encoder) and CLIP vision models (LLaVA, SLaVA-CXR)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from radzoo.files.weights import explain_missing_weights
from radzoo.plugins.encoders.base import CLIP_MEAN, CLIP_STD, EncoderBase, block_index
from radzoo.plugins.encoders.weight_files import require_path_if_path_like
from radzoo.plugins.encoders.weight_sources import RAD_DINO_HUB

# Used only when a RAD-DINO directory has no preprocessor_config.json: the values of microsoft/rad-dino's
# (a CXR-specific mean/std, the same for its three identical channels).
RAD_DINO_MEAN = (0.5307, 0.5307, 0.5307)
RAD_DINO_STD = (0.2583, 0.2583, 0.2583)


class HFVisionEncoder(EncoderBase):
    """Patch tokens of a transformers vision model's ``select_layer`` (prefix tokens dropped unless asked).

    ``select_layer=-1`` with ``final_norm`` returns ``last_hidden_state`` (after the final layernorm, as
    RAD-DINO's model card and MAIRA use it); every other layer is a raw block output ``hidden_states[i+1]``
    (LLaVA's ``hidden_states[select_layer]`` convention).
    """

    def __init__(self, model: nn.Module, image_size: int, mean: Sequence[float], std: Sequence[float],
                 select_layer: int, drop_cls: bool = True, num_prefix_tokens: int = 1,
                 final_norm: bool = False) -> None:
        config = model.config
        super().__init__(config.hidden_size, image_size, config.num_channels, mean, std)
        self.model = model
        self.select_layer = select_layer
        self.layer_index = block_index(config.num_hidden_layers, select_layer)
        self.use_last_hidden_state = final_norm and self.layer_index == config.num_hidden_layers - 1
        self.drop_cls = drop_cls
        self.num_prefix_tokens = num_prefix_tokens

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=pixel_values, output_hidden_states=not self.use_last_hidden_state)
        tokens = out.last_hidden_state if self.use_last_hidden_state else out.hidden_states[self.layer_index + 1]
        return tokens[:, self.num_prefix_tokens:] if self.drop_cls else tokens


def image_processing(ref: str, default_size: int, default_mean: Sequence[float],
                     default_std: Sequence[float]) -> tuple[int, tuple, tuple]:
    """(crop size, mean, std) from the directory's image processor config, else the given defaults."""
    from transformers import AutoImageProcessor

    try:
        processor = AutoImageProcessor.from_pretrained(ref)
    except (OSError, ValueError):  # no preprocessor_config.json: the documented defaults apply
        return default_size, tuple(default_mean), tuple(default_std)
    crop = getattr(processor, "crop_size", None) or getattr(processor, "size", None) or {}
    crop = dict(crop) if not isinstance(crop, int) else {"height": crop}
    size = crop.get("height") or crop.get("shortest_edge") or default_size
    return (int(size), tuple(getattr(processor, "image_mean", None) or default_mean),
            tuple(getattr(processor, "image_std", None) or default_std))


def _from_pretrained(model_class: Any, ref: str, recipe_key: str, what: str) -> nn.Module:
    require_path_if_path_like(ref, recipe_key)
    with explain_missing_weights(ref, recipe_key, what):
        return model_class.from_pretrained(ref)


def build_rad_dino(path: str | None = None, select_layer: int = -1, drop_cls: bool = True,
                   rescale_intensity: bool = False, crop_rounding: str = "round") -> HFVisionEncoder:
    """RAD-DINO (ViT-B/14 @518, 1369 patch tokens; CLS and register tokens dropped), default final layer.

    ``rescale_intensity`` stretches each image's grey levels to 0..255 first, as MAIRA-2's processor does;
    ``crop_rounding="floor"`` centre-crops as transformers' image processors do.
    """
    from transformers import AutoModel

    ref = path or RAD_DINO_HUB
    model = _from_pretrained(AutoModel, ref, "encoder.args.path", "RAD-DINO encoder")
    size, mean, std = image_processing(ref, model.config.image_size, RAD_DINO_MEAN, RAD_DINO_STD)
    prefix = 1 + int(getattr(model.config, "num_register_tokens", 0) or 0)
    encoder = HFVisionEncoder(model, size, mean, std, select_layer, drop_cls, num_prefix_tokens=prefix,
                              final_norm=True)
    encoder.rescale_intensity = rescale_intensity
    encoder.crop_rounding = crop_rounding
    return encoder


def build_hf_clip_vision(hf_path: str, select_layer: int = -2, drop_cls: bool = True) -> HFVisionEncoder:
    """A transformers CLIP vision tower (a ``CLIPModel`` or ``CLIPVisionModel`` checkpoint), LLaVA-style."""
    from transformers import CLIPVisionModel

    model = _from_pretrained(CLIPVisionModel, hf_path, "encoder.args.hf_path", "CLIP vision tower")
    size, mean, std = image_processing(hf_path, model.config.image_size, CLIP_MEAN, CLIP_STD)
    return HFVisionEncoder(model, size, mean, std, select_layer, drop_cls)
