"""Where each built-in encoder's weights come from, checked without torch or a model library.

Each ``check_*`` takes the recipe's ``encoder.args`` (as its factory does) and returns why those weights cannot
load without the hub, or None. ``radzoo build`` runs them before any factory, so every missing part of a recipe
is named in one error in a second or two (the factories still check, for what these cannot see).
"""

from __future__ import annotations

from typing import Any

from radzoo.files.weights import is_path_like, offline_weights_problem

BIOMEDCLIP_HUB = "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
LLAVA_RAD_HUB = "microsoft/llava-rad"
LLAVA_RAD_CONFIG = "biomedclipcxr_518.json"
LLAVA_RAD_CHECKPOINT = "biomedclipcxr_518_checkpoint.pt"
RAD_DINO_HUB = "microsoft/rad-dino"
CXR_LLAVA_HUB = "ECOFRI/CXR-LLAVA-v2"
CXR_LLAVA_INDEX_FILES = ["config.json", "model.safetensors.index.json"]
# The hub repos of open_clip's tag weights (``open_clip.get_pretrained_cfg(name, tag)["hf_hub"]``; a test keeps
# them equal), so a tag is checked without importing open_clip. A tag not listed is left to the factory.
OPEN_CLIP_TAG_REPOS = {
    ("ViT-L-14-336", "openai"): "timm/vit_large_patch14_clip_336.openai",
    ("ViT-L-14", "openai"): "timm/vit_large_patch14_clip_224.openai",
    ("ViT-B-16", "openai"): "timm/vit_base_patch16_clip_224.openai",
}
OPEN_CLIP_WEIGHT_FILES = ("open_clip_pytorch_model.bin", "open_clip_model.safetensors")
PATH_KEY = "encoder.args.path"


def _open_clip_dir_problem(ref: str, what: str) -> str | None:
    """A path, ``local-dir:PATH``, ``hf-hub:ID`` or bare hub id of an open_clip directory."""
    ref = ref.removeprefix("local-dir:").removeprefix("hf-hub:")
    return offline_weights_problem(ref, PATH_KEY, what, ("open_clip_config.json",))


def check_biomedclip(path: str | None = None, **_: Any) -> str | None:
    """BiomedCLIP: ``path`` or its hub repo."""
    return _open_clip_dir_problem(path or BIOMEDCLIP_HUB, "open_clip model")


def check_biomedclip_cxr_518(path: str | None = None, pretrained: bool = True, **_: Any) -> str | None:
    """LLaVA-Rad's BiomedCLIP-CXR-518: ``path`` or LLaVA-Rad's release (nothing when ``pretrained=false``)."""
    if not pretrained:
        return None
    if path is None:
        return offline_weights_problem(LLAVA_RAD_HUB, PATH_KEY, "LLaVA-Rad's BiomedCLIP-CXR-518 encoder",
                                       (LLAVA_RAD_CHECKPOINT,))
    return _open_clip_dir_problem(path, "open_clip model")


def check_clip(model_name: str | None = None, pretrained: str | None = None, path: str | None = None,
               hf_path: str | None = None, **_: Any) -> str | None:
    """A CLIP tower: ``hf_path`` (transformers), ``path`` (open_clip) or ``model_name`` + a ``pretrained`` tag."""
    if hf_path is not None:
        return offline_weights_problem(hf_path, "encoder.args.hf_path", "CLIP vision tower", ("config.json",))
    if path is not None:
        return _open_clip_dir_problem(path, "open_clip model")
    if pretrained is None:  # a random tower
        return None
    repo = OPEN_CLIP_TAG_REPOS.get((model_name, pretrained))
    if repo is not None:
        return offline_weights_problem(repo, PATH_KEY, "open_clip weights", OPEN_CLIP_WEIGHT_FILES)
    if is_path_like(pretrained):
        return offline_weights_problem(pretrained, "encoder.args.pretrained", "open_clip weights", ())
    return None  # a tag not listed here: the factory decides


def check_rad_dino(path: str | None = None, **_: Any) -> str | None:
    """RAD-DINO: ``path`` or its hub repo."""
    return offline_weights_problem(path or RAD_DINO_HUB, PATH_KEY, "RAD-DINO encoder", ("config.json",))


def check_cxr_llava_vit(path: str | None = None, pretrained: bool = True, **_: Any) -> str | None:
    """CXR-LLaVA-v2's tower: ``path`` or its hub checkpoint (nothing when ``pretrained=false``)."""
    if not pretrained:
        return None
    return offline_weights_problem(path or CXR_LLAVA_HUB, PATH_KEY, "CXR-LLaVA-v2 checkpoint",
                                   tuple(CXR_LLAVA_INDEX_FILES), hub_id=CXR_LLAVA_HUB)
