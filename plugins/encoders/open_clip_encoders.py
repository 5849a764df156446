"""BiomedCLIP, LLaVA-Rad's BiomedCLIP-CXR-518 and any open_clip/HF CLIP image tower, from local files or the hub.

Local layouts accepted for ``path``:
- open_clip ``local-dir:`` format: ``open_clip_config.json`` (``model_cfg`` + ``preprocess_cfg``) beside
  ``open_clip_pytorch_model.bin`` / ``open_clip_model.safetensors`` (what ``hf download`` of an open_clip
  hub repo gives);
- LLaVA-Rad's release (``microsoft/llava-rad``): ``biomedclipcxr_518.json`` (a bare model config) beside
  ``biomedclipcxr_518_checkpoint.pt`` (a full open_clip CLIP state dict, possibly wrapped in
  ``state_dict``/``module.``), the two files LLaVA-Rad's ``OpenCLIPVisionTower`` downloads;
- a single checkpoint file, read with the built-in (or a given ``config``) model config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radzoo.errors import InputError, MissingFileError
from radzoo.files.weights import explain_missing_weights, is_local
from radzoo.plugins.encoders.base import EncoderBase
from radzoo.plugins.encoders.hf_encoders import build_hf_clip_vision
from radzoo.plugins.encoders.open_clip_tower import load_open_clip_encoder
from radzoo.plugins.encoders.weight_files import require_path_if_path_like
from radzoo.plugins.encoders.weight_sources import (
    BIOMEDCLIP_HUB,
    LLAVA_RAD_CHECKPOINT,
    LLAVA_RAD_CONFIG,
    LLAVA_RAD_HUB,
)

# The image half of LLaVA-Rad's biomedclipcxr_518.json (LLaVA-Rad repo,
# llava/model/multimodal_encoder/open_clip_encoder/): DINOv2-style ViT-B/14 trunk at 518 px, no pooling,
# linear projection to the 512-d CLIP space (unused here). Its text half (BiomedBERT) is never built.
BIOMEDCLIP_CXR_518_CONFIG: dict[str, Any] = {
    "embed_dim": 512,
    "vision_cfg": {
        "timm_model_name": "vit_base_patch14_dinov2.lvd142m",
        "timm_model_pretrained": False,
        "timm_pool": "",
        "timm_proj": "linear",
        "image_size": 518,
    },
}

OPEN_CLIP_FILES = ["open_clip_config.json", "open_clip_*"]


def hub_snapshot(repo_id: str, patterns: list[str], recipe_key: str, what: str) -> Path:
    """The local snapshot of a hub repo (downloaded if allowed); a WeightsNotFoundError when offline."""
    from huggingface_hub import snapshot_download

    with explain_missing_weights(repo_id, recipe_key, what):
        return Path(snapshot_download(repo_id, allow_patterns=patterns))


def _read_config(file: Path) -> tuple[dict, dict]:
    """(model_cfg, preprocess_cfg) from an open_clip json: the hub's wrapped form or a bare model config."""
    try:
        raw = json.loads(Path(file).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the open_clip config {file}: {exc}") from exc
    model_cfg = raw.get("model_cfg", raw)
    if "vision_cfg" not in model_cfg:
        raise InputError(f"{file} is not an open_clip model config: it has no 'vision_cfg'")
    return model_cfg, raw.get("preprocess_cfg", {})


def read_open_clip_dir(directory: Path, recipe_key: str = "encoder.args.path") -> tuple[dict, dict, str]:
    """(model_cfg, preprocess_cfg, weights file) of an open_clip ``local-dir:`` folder."""
    from open_clip.factory import _find_checkpoint_in_dir  # open_clip's own local-dir weight-file rule

    model_cfg, preprocess_cfg = _read_config(directory / "open_clip_config.json")
    checkpoint = _find_checkpoint_in_dir(directory)
    if checkpoint is None:
        raise MissingFileError(f"{recipe_key}={directory} has open_clip_config.json but no weights file "
                                "(open_clip_pytorch_model.bin or *.safetensors)")
    return model_cfg, preprocess_cfg, checkpoint


def _open_clip_source(ref: str, recipe_key: str) -> Path:
    """A local directory or file for ``ref``: a path, ``local-dir:PATH``, ``hf-hub:ID`` or a bare hub id."""
    if ref.startswith("local-dir:"):
        ref = ref[len("local-dir:"):]
        if not is_local(ref):
            raise MissingFileError(f"{recipe_key}: local directory {ref!r} does not exist")
    require_path_if_path_like(ref, recipe_key)
    if is_local(ref):
        return Path(ref).expanduser()
    return hub_snapshot(ref.removeprefix("hf-hub:"), OPEN_CLIP_FILES, recipe_key, "open_clip model")


def build_biomedclip(path: str | None = None, select_layer: int = -2, drop_cls: bool = True) -> EncoderBase:
    """BiomedCLIP's ViT-B/16 @224 (196 patch tokens of the second-to-last block, CLS dropped)."""
    directory = _open_clip_source(path or f"hf-hub:{BIOMEDCLIP_HUB}", "encoder.args.path")
    model_cfg, preprocess_cfg, checkpoint = read_open_clip_dir(directory)
    return load_open_clip_encoder(model_cfg, checkpoint, preprocess_cfg, select_layer=select_layer,
                                  drop_cls=drop_cls)


def _llava_rad_files(path: Path, config: str | None) -> tuple[dict, dict, Path]:
    """(model_cfg, preprocess_cfg, checkpoint) from a LLaVA-Rad-style directory or a checkpoint file."""
    if path.is_dir():
        checkpoint = path / LLAVA_RAD_CHECKPOINT
        if not checkpoint.is_file():
            found = sorted(p for p in path.iterdir() if p.suffix in (".pt", ".pth", ".bin", ".safetensors"))
            if len(found) != 1:
                raise MissingFileError(f"encoder.args.path={path} holds neither open_clip_config.json nor "
                                        f"{LLAVA_RAD_CHECKPOINT} (nor exactly one weights file); run "
                                        f"`hf download {LLAVA_RAD_HUB} {LLAVA_RAD_CONFIG} {LLAVA_RAD_CHECKPOINT} "
                                        f"--local-dir DIR`")
            checkpoint = found[0]
        if config is None and (path / LLAVA_RAD_CONFIG).is_file():
            config = str(path / LLAVA_RAD_CONFIG)
    else:
        checkpoint = path
    if config is None:
        return BIOMEDCLIP_CXR_518_CONFIG, {}, checkpoint
    if not is_local(config):
        raise MissingFileError(f"encoder.args.config: {config!r} does not exist (an open_clip model config json)")
    model_cfg, preprocess_cfg = _read_config(Path(config))
    return model_cfg, preprocess_cfg, checkpoint


def build_biomedclip_cxr_518(path: str | None = None, config: str | None = None, select_layer: int = -2,
                             drop_cls: bool = True, pretrained: bool = True, seed: int | None = None) -> EncoderBase:
    """LLaVA-Rad's BiomedCLIP-CXR: ViT-B/14 @518, 1369 patch tokens of the second-to-last block, CLS dropped.

    Mirrors LLaVA-Rad's ``VisionTower`` (patch_embed, pos-embed, norm_pre, blocks; ``hidden_states[-2]``,
    ``[:, 1:]``). ``pretrained=false`` builds the same architecture randomly initialised (``seed``).
    """
    if not pretrained:
        return load_open_clip_encoder(BIOMEDCLIP_CXR_518_CONFIG, None, select_layer=select_layer,
                                      drop_cls=drop_cls, seed=seed)
    if path is None:
        source = hub_snapshot(LLAVA_RAD_HUB, [LLAVA_RAD_CONFIG, LLAVA_RAD_CHECKPOINT], "encoder.args.path",
                              "LLaVA-Rad's BiomedCLIP-CXR-518 encoder")
    else:
        source = _open_clip_source(path, "encoder.args.path")
    if source.is_dir() and (source / "open_clip_config.json").is_file():
        model_cfg, preprocess_cfg, checkpoint = read_open_clip_dir(source)
    else:
        model_cfg, preprocess_cfg, checkpoint = _llava_rad_files(source, config)
    return load_open_clip_encoder(model_cfg, checkpoint, preprocess_cfg, select_layer=select_layer,
                                  drop_cls=drop_cls)


def build_clip(model_name: str | None = None, pretrained: str | None = None, path: str | None = None,
               hf_path: str | None = None, select_layer: int = -2, drop_cls: bool = True,
               seed: int | None = None, crop_rounding: str = "round") -> EncoderBase:
    """Any CLIP image tower: transformers (``hf_path``) or open_clip (``path``, or ``model_name`` + ``pretrained``).

    ``pretrained`` is an open_clip tag (``openai``) or a weights file; without it the tower is random (``seed``).
    SLaVA-CXR/LLaVA: ``hf_path=openai/clip-vit-large-patch14-336``, 576 tokens of ``hidden_states[-2]``.
    ``crop_rounding="floor"`` centre-crops as a transformers ``CLIPImageProcessor`` does (``hf_path`` only).
    """
    if hf_path is not None:
        encoder = build_hf_clip_vision(hf_path, select_layer=select_layer, drop_cls=drop_cls)
        encoder.crop_rounding = crop_rounding
        return encoder
    if path is not None and not (is_local(path) and Path(path).is_file()):
        model_cfg, preprocess_cfg, checkpoint = read_open_clip_dir(_open_clip_source(path, "encoder.args.path"))
        return load_open_clip_encoder(model_cfg, checkpoint, preprocess_cfg, select_layer=select_layer,
                                      drop_cls=drop_cls)
    if model_name is None:
        raise InputError("encoder 'clip' needs encoder.args.hf_path (transformers CLIP), encoder.args.path "
                         "(open_clip directory) or encoder.args.model_name (open_clip name, e.g. ViT-L-14-336)")
    return _build_named_open_clip(model_name, path or pretrained, select_layer, drop_cls, seed)


def _build_named_open_clip(model_name: str, pretrained: str | None, select_layer: int, drop_cls: bool,
                           seed: int | None) -> EncoderBase:
    """A built-in open_clip architecture with tag weights (hub), a weights file, or a random init."""
    import open_clip
    from open_clip.pretrained import download_pretrained

    model_cfg = open_clip.get_model_config(model_name)
    if model_cfg is None:
        raise InputError(f"encoder.args.model_name={model_name!r} is not an open_clip model; "
                         f"known: {', '.join(m for m in open_clip.list_models() if 'ViT' in m)[:400]}...")
    checkpoint, tag_cfg = None, {}
    if pretrained is not None:
        require_path_if_path_like(pretrained, "encoder.args.pretrained")
    if pretrained is not None and is_local(pretrained):
        checkpoint = pretrained
    elif pretrained is not None:
        tag_cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
        if not tag_cfg:
            raise InputError(f"encoder.args.pretrained={pretrained!r} is neither a weights file nor an open_clip "
                             f"tag of {model_name} (tags: {open_clip.list_pretrained_tags_by_model(model_name)})")
        hub_id = tag_cfg.get("hf_hub", "").strip("/") or f"{model_name}/{pretrained}"
        with explain_missing_weights(hub_id, "encoder.args.path", "open_clip weights"):
            checkpoint = download_pretrained(tag_cfg)
    # The tag says how its weights were trained (OpenAI's use QuickGELU); follow it, not the bare config.
    quick_gelu = tag_cfg.get("quick_gelu") if tag_cfg else None
    return load_open_clip_encoder(model_cfg, checkpoint, tag_cfg, select_layer=select_layer, drop_cls=drop_cls,
                                  quick_gelu=quick_gelu, seed=seed)
