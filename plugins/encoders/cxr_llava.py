"""CXR-LLaVA v2's image tower: an open_clip ViT-L/16 @512 on 1-channel CXRs, 1024 patch tokens after ``ln_post``.

Mirrors ``CXR_LLAVA_HF.py`` of ECOFRI/CXR-LLAVA-v2: the tower is open_clip's ``VisionTransformer`` with a
1-channel patch conv, configured by ``config.json``'s ``clip_vision_cfg`` (image_size 512, layers 24,
patch_size 16, width 1024), normalised with ``image_preprocess_cfg`` (mean 0.5518, std 0.3822), and
``encode_images`` takes ``_global_pool(ln_post(x))``'s patch tokens. The weights are the
``vision_tower.*`` tensors of the model's safetensors shards (the attribute name in that file; the
shard index is read to fetch only the shard that holds them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from radzoo.errors import InputError, MissingFileError
from radzoo.files.weights import is_local
from radzoo.plugins.encoders.open_clip_encoders import hub_snapshot
from radzoo.plugins.encoders.open_clip_tower import OpenClipViTEncoder, build_visual_tower, load_matching
from radzoo.plugins.encoders.weight_files import read_sharded_weights, read_weights
from radzoo.plugins.encoders.weight_sources import CXR_LLAVA_HUB
from radzoo.plugins.encoders.weight_sources import CXR_LLAVA_INDEX_FILES as INDEX_FILES

CXR_LLAVA_MEAN = 0.5518136078431373
CXR_LLAVA_STD = 0.3821719215686275
TOWER_KEY = "vision_tower."


def _vision_tower_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``...vision_tower.X`` -> ``X`` (any outer prefix, e.g. ``model.``, is accepted)."""
    return {k.split(TOWER_KEY, 1)[1]: v for k, v in state.items() if TOWER_KEY in k}


def _hub_checkpoint_dir() -> Path:
    """The hub checkpoint's config, index and only the shard(s) holding the vision tower."""
    what = "CXR-LLaVA-v2 checkpoint"
    directory = hub_snapshot(CXR_LLAVA_HUB, INDEX_FILES, "encoder.args.path", what)
    weight_map = json.loads((directory / INDEX_FILES[1]).read_text())["weight_map"]
    shards = sorted({shard for name, shard in weight_map.items() if TOWER_KEY in name})
    return hub_snapshot(CXR_LLAVA_HUB, INDEX_FILES + shards, "encoder.args.path", what)


def _checkpoint_config(directory: Path) -> dict[str, Any]:
    config_file = directory / "config.json"
    if not config_file.is_file():
        return {}
    config = json.loads(config_file.read_text())
    if "clip_vision_cfg" not in config:
        raise InputError(f"{config_file} is not a CXR-LLaVA config: it has no 'clip_vision_cfg'")
    return config


def build_cxr_llava_vit(
    path: str | None = None,
    pretrained: bool = True,
    image_size: int = 512,
    patch_size: int = 16,
    width: int = 1024,
    layers: int = 24,
    heads: int = 16,
    mlp_ratio: float = 4.0,
    embed_dim: int = 128,
    select_layer: int = -1,
    seed: int | None = None,
    interpolation: str = "bicubic",
    crop_rounding: str = "round",
) -> OpenClipViTEncoder:
    """The tower from a CXR-LLaVA-v2 directory/weights file (its config.json replaces the size args).

    ``pretrained=false`` builds the size args' architecture randomly initialised (``seed``).
    ``select_layer=-1`` is CXR-LLaVA's choice: the last block's patch tokens through ``ln_post``.
    ``interpolation`` is the resize filter (the released processor's ``resample=True`` is PIL's Lanczos);
    ``crop_rounding="floor"`` centre-crops as that (transformers) processor does.
    """
    config: dict[str, Any] = {}
    state = None
    if pretrained:
        source = Path(path).expanduser() if path is not None else _hub_checkpoint_dir()
        if path is not None and not is_local(path):
            raise MissingFileError(f"encoder.args.path: {path!r} does not exist; give a CXR-LLaVA-v2 directory "
                                    f"(`hf download {CXR_LLAVA_HUB} --local-dir DIR`) or a weights file")
        if source.is_dir():
            config = _checkpoint_config(source)
            state = read_sharded_weights(source, lambda k: TOWER_KEY in k)
        else:
            state = read_weights(source)
        state = _vision_tower_tensors(state) or state  # a tower-only file carries no prefix
    # A checkpoint's clip_vision_cfg is used as CXR-LLaVA uses it: open_clip's CLIPVisionCfg defaults fill the rest
    vision = config.get("clip_vision_cfg") or dict(image_size=image_size, layers=layers, width=width,
                                                   patch_size=patch_size, head_width=width // heads,
                                                   mlp_ratio=mlp_ratio)
    model_cfg = {"embed_dim": config.get("clip_embed_dim", embed_dim), "vision_cfg": vision}
    preprocess = config.get("image_preprocess_cfg", {})
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        visual = build_visual_tower(model_cfg, in_chans=1, quick_gelu=bool(config.get("clip_quick_gelu", False)))
    if state is not None:
        load_matching(visual, state, f"{source} (CXR-LLaVA vision tower)")
    encoder = OpenClipViTEncoder(visual, select_layer=select_layer, drop_cls=True, final_norm=True,
                                 mean=_one_channel(preprocess.get("mean", CXR_LLAVA_MEAN)),
                                 std=_one_channel(preprocess.get("std", CXR_LLAVA_STD)))
    encoder.interpolation = interpolation
    encoder.crop_rounding = crop_rounding
    return encoder


def _one_channel(value: float | list[float]) -> tuple[float]:
    """CXR-LLaVA's config stores a scalar; a one-element list is accepted too."""
    return (float(value[0] if isinstance(value, (list, tuple)) else value),)
