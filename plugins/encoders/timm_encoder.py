"""Any timm image model as a radzoo encoder, plus the tiny random ViT used by tests and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from radzoo.errors import MissingFileError
from radzoo.files.weights import explain_missing_weights, is_local
from radzoo.plugins.encoders.base import IMAGENET_MEAN, IMAGENET_STD, EncoderBase, block_index


class TimmEncoder(EncoderBase):
    """Patch tokens of a timm model's ``select_layer`` block (prefix/CLS tokens dropped unless asked)."""

    def __init__(self, model: Any, select_layer: int = -2, drop_cls: bool = True,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        cfg = model.pretrained_cfg or {}
        size = model.patch_embed.img_size[0] if hasattr(model, "patch_embed") else cfg.get("input_size", (3, 224))[-1]
        in_chans = getattr(getattr(model, "patch_embed", None), "proj", None)
        in_chans = in_chans.in_channels if in_chans is not None else cfg.get("input_size", (3,))[0]
        # mean/std given by the caller win: an open_clip tower is normalised as its CLIP training was
        super().__init__(model.num_features, size, in_chans, mean or cfg.get("mean", IMAGENET_MEAN),
                         std or cfg.get("std", IMAGENET_STD))
        self.model = model
        self.select_layer = select_layer
        self.drop_cls = drop_cls
        depth = len(model.blocks) if hasattr(model, "blocks") else len(model.feature_info)
        self.layer_index = block_index(depth, select_layer)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.model.forward_intermediates(
            pixel_values, indices=[self.layer_index], norm=False, intermediates_only=True,
            **({"output_fmt": "NLC", "return_prefix_tokens": not self.drop_cls, "stop_early": True}
               if hasattr(self.model, "blocks")
               else {}),
        )[0]
        if isinstance(out, tuple):  # (patch tokens, prefix tokens)
            out = torch.cat([out[1], out[0]], dim=1)
        if out.ndim == 4:  # CNN feature map [B,C,H,W] -> tokens
            out = out.flatten(2).transpose(1, 2)
        return out


def build_timm_encoder(
    model_name: str,
    pretrained: bool = False,
    path: str | None = None,
    image_size: int | None = None,
    in_chans: int = 3,
    select_layer: int = -2,
    drop_cls: bool = True,
    seed: int | None = None,
    **model_kwargs: Any,
) -> TimmEncoder:
    """``timm.create_model(model_name)``; ``path`` loads weights from a local file instead of the hub."""
    import timm

    kwargs = dict(model_kwargs, num_classes=0, in_chans=in_chans)
    if image_size is not None:
        kwargs["img_size"] = image_size
    if path is not None:
        if not is_local(path):
            raise MissingFileError(f"encoder.args.path: {path!r} does not exist; give a timm weights file "
                                    "(.safetensors or .pth) or a directory holding one")
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
        pretrained = True
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        with explain_missing_weights(model_name, "encoder.args.path", "timm model"):
            model = timm.create_model(model_name, pretrained=pretrained, **kwargs)
    return TimmEncoder(model, select_layer=select_layer, drop_cls=drop_cls)


def build_tiny_vit(image_size: int = 64, patch_size: int = 8, embed_dim: int = 64, depth: int = 2,
                   num_heads: int = 2, in_chans: int = 1, select_layer: int = -1, seed: int = 0,
                   path: str | None = None) -> TimmEncoder:
    """A tiny randomly-initialised timm ViT (same seed, same weights): the encoder family's test size."""
    return build_timm_encoder(
        "vit_tiny_patch16_224", path=path, image_size=image_size, in_chans=in_chans,
        select_layer=select_layer, seed=seed, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
        num_heads=num_heads, mlp_ratio=2.0,
    )
