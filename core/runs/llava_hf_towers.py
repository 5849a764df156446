"""Vision towers as transformers models for a LLaVA export: CLIP, SigLIP and DINOv2 (HF, open_clip, timm).

LLaVA reads ``hidden_states[vision_feature_layer]`` of its tower (raw block outputs, no final norm) and
drops index 0 under the "default" select strategy; each converter says which layer and strategy give
exactly the radzoo encoder's tokens, and refuses (ExportRefused, one line) what LLaVA cannot express.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from radzoo.errors import InputError

# transformers vision config model_type -> the name LLaVA users know it by
TOWER_KINDS = {"clip_vision_model": "CLIP", "siglip_vision_model": "SigLIP", "dinov2": "DINOv2"}
# PIL's RGB -> L weights: spread over three channels, a 1-channel patch embedding gives on the RGB copy of a
# grey image (three equal channels) exactly what it gave on the grey image
LUMA = (0.299, 0.587, 0.114)
PATCH_WEIGHTS = ("embeddings.patch_embedding.weight", "embeddings.patch_embeddings.projection.weight")


class ExportRefused(InputError):
    """The run has a part that a transformers LlavaForConditionalGeneration cannot express."""


@dataclass
class ConvertedTower:
    """A transformers vision config, its weights (module-relative keys) and LLaVA's feature selection."""

    config: Any
    state: dict[str, torch.Tensor]
    feature_layer: int  # index into hidden_states (negative: from the end)
    select_strategy: str  # "default" drops hidden_states[...][:, 0], "full" keeps every token
    additional_tokens: int  # tokens besides the patch grid (the CLS token) for the processor's count

    @property
    def kind(self) -> str:
        return TOWER_KINDS[self.config.model_type]


def _strategy(drop_cls: bool, prefix_tokens: int, what: str) -> str:
    if drop_cls and prefix_tokens != 1:
        raise ExportRefused(f"{what} drops {prefix_tokens} prefix tokens (CLS and registers); LLaVA's 'default' "
                            "strategy drops exactly one")
    return "default" if drop_cls else "full"


def _split_qkv(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fused ``[3*D, ...]`` projection (timm ``qkv``, torch MHA ``in_proj``) as its q, k and v parts."""
    q, k, v = weight.chunk(3, dim=0)
    return q.clone(), k.clone(), v.clone()


def _check_keys(model_class: Any, config: Any, state: dict[str, torch.Tensor], what: str) -> None:
    """Every key of the transformers model is filled with a tensor of its shape (a converter bug otherwise)."""
    with torch.device("meta"):
        target = model_class(config).state_dict()
    wrong = [k for k in target if k not in state or tuple(state[k].shape) != tuple(target[k].shape)]
    extra = [k for k in state if k not in target]
    if wrong or extra:
        raise ExportRefused(f"{what}: converted weights do not fit {model_class.__name__} "
                            f"(missing or misshapen: {wrong[:3]}, unexpected: {extra[:3]})")


def from_transformers(encoder: Any, name: str) -> ConvertedTower:
    """An HFVisionEncoder (RAD-DINO, HF CLIP, SigLIP): its model's own config and weights."""
    model = encoder.model
    config = copy.deepcopy(model.config)
    if config.model_type not in TOWER_KINDS:
        raise ExportRefused(f"encoder {name!r} is a transformers {config.model_type} model; the LLaVA export "
                            "converts CLIP, SigLIP and DINOv2 towers only")
    layers = int(config.num_hidden_layers)
    if encoder.use_last_hidden_state and config.model_type != "clip_vision_model":
        raise ExportRefused(f"encoder {name!r} takes its last layer after the final layernorm (as MAIRA's "
                            "RAD-DINO does); LLaVA reads raw hidden states: set encoder.args.select_layer=-2 "
                            "or train with final_norm off")
    strategy = _strategy(encoder.drop_cls, encoder.num_prefix_tokens, f"encoder {name!r}")
    has_cls = config.model_type != "siglip_vision_model"
    return ConvertedTower(config, {k: v.detach().clone() for k, v in model.state_dict().items()},
                          encoder.layer_index - layers, strategy, int(has_cls))


def from_open_clip(encoder: Any, name: str) -> ConvertedTower:
    """An open_clip ViT tower as CLIPVisionModel (fused in_proj split into q/k/v; ``proj`` unused)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    visual = encoder.visual
    what = f"encoder {name!r} (open_clip {type(visual).__name__})"
    if encoder.final_norm:
        raise ExportRefused(f"{what} applies ln_post to the patch tokens (as CXR-LLaVA); LLaVA reads raw "
                            "hidden states, so that norm cannot be expressed")
    blocks = visual.transformer.resblocks
    odd = [why for why, bad in (
        ("an attention pool", getattr(visual, "attn_pool", None) is not None),
        ("no ln_pre", type(visual.ln_pre).__name__ != "LayerNorm"),
        ("layer scale", type(blocks[0].ls_1).__name__ != "Identity"),
        ("a non-standard MLP", not hasattr(blocks[0].mlp, "c_fc")),
    ) if bad]
    if odd:
        raise ExportRefused(f"{what} has {odd[0]}, which CLIPVisionModel does not have")
    act = "quick_gelu" if type(blocks[0].mlp.gelu).__name__ == "QuickGELU" else "gelu"
    width = int(visual.transformer.width)
    config = CLIPVisionConfig(
        hidden_size=width, intermediate_size=int(blocks[0].mlp.c_fc.out_features), num_hidden_layers=len(blocks),
        num_attention_heads=int(blocks[0].attn.num_heads), image_size=int(visual.image_size[0]),
        patch_size=int(visual.patch_size[0]), num_channels=int(visual.conv1.in_channels), hidden_act=act,
        layer_norm_eps=float(visual.ln_pre.eps))
    src = visual.state_dict()
    state = {"embeddings.patch_embedding.weight": src["conv1.weight"],
             "embeddings.class_embedding": src["class_embedding"],
             "embeddings.position_embedding.weight": src["positional_embedding"]}
    for part in ("weight", "bias"):
        state[f"pre_layrnorm.{part}"] = src[f"ln_pre.{part}"]
        state[f"post_layernorm.{part}"] = src[f"ln_post.{part}"]
    for i in range(len(blocks)):
        a, b = f"transformer.resblocks.{i}.", f"encoder.layers.{i}."
        for part in ("weight", "bias"):
            q, k, v = _split_qkv(src[f"{a}attn.in_proj_{part}"])
            state.update({f"{b}self_attn.q_proj.{part}": q, f"{b}self_attn.k_proj.{part}": k,
                          f"{b}self_attn.v_proj.{part}": v})
            for old, new in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"),
                             ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                state[f"{b}{new}.{part}"] = src[f"{a}{old}.{part}"]
    _check_keys(CLIPVisionModel, config, state, what)
    return ConvertedTower(config, state, encoder.layer_index - len(blocks),
                          _strategy(encoder.drop_cls, 1, what), 1)


def from_timm_vit(encoder: Any, name: str) -> ConvertedTower:
    """A timm ViT (BiomedCLIP-CXR-518's DINOv2 trunk ``vit_*_dinov2``, or a plain ``vit_*`` without layer scale,
    which is a DINOv2 block with scale 1) as Dinov2Model: the processor always feeds the native size, where
    Dinov2Model adds its position embeddings as they are, as timm does."""
    from transformers import Dinov2Config, Dinov2Model

    model = encoder.model
    arch = str((model.pretrained_cfg or {}).get("architecture", type(model).__name__))
    what = f"encoder {name!r} (timm {arch})"
    if type(model).__name__ != "VisionTransformer" or not hasattr(model, "blocks"):
        raise ExportRefused(f"{what} has no transformers equivalent the LLaVA export converts; it converts "
                            "CLIP, SigLIP, DINOv2 and plain ViT towers (timm VisionTransformer, RAD-DINO)")
    block = model.blocks[0]
    odd = [why for why, bad in (
        ("register tokens", getattr(model, "num_reg_tokens", 0)), ("no class token", not model.has_class_token),
        ("no position embedding for its class token", getattr(model, "no_embed_class", False)),
        ("a dynamic image size", getattr(model, "dynamic_img_size", False)),
        ("a pre-norm", type(model.norm_pre).__name__ != "Identity"),
        ("a SwiGLU MLP", type(block.mlp).__name__ != "Mlp"),
        ("q/k norms", type(block.attn.q_norm).__name__ != "Identity"),
    ) if bad]
    if odd:
        raise ExportRefused(f"{what} has {odd[0]}, which transformers Dinov2Model does not have")
    width, depth = int(model.embed_dim), len(model.blocks)
    hidden = int(block.mlp.fc1.out_features)
    if hidden % width:
        raise ExportRefused(f"{what} has an MLP width ({hidden}) that is no whole multiple of {width}, which "
                            "Dinov2Config's integer mlp_ratio cannot express")
    config = Dinov2Config(
        hidden_size=width, num_hidden_layers=depth, num_attention_heads=int(block.attn.num_heads),
        mlp_ratio=hidden // width, image_size=int(model.patch_embed.img_size[0]),
        patch_size=int(model.patch_embed.patch_size[0]), num_channels=int(model.patch_embed.proj.in_channels),
        qkv_bias=block.attn.qkv.bias is not None, layer_norm_eps=float(block.norm1.eps), hidden_act="gelu")
    src = model.state_dict()
    ones = torch.ones(width, dtype=src["cls_token"].dtype)
    state = {"embeddings.cls_token": src["cls_token"], "embeddings.position_embeddings": src["pos_embed"],
             "embeddings.mask_token": torch.zeros(1, width, dtype=src["cls_token"].dtype),  # unused at inference
             "embeddings.patch_embeddings.projection.weight": src["patch_embed.proj.weight"],
             "embeddings.patch_embeddings.projection.bias": src["patch_embed.proj.bias"],
             "layernorm.weight": src["norm.weight"], "layernorm.bias": src["norm.bias"]}
    for i in range(depth):
        a, b = f"blocks.{i}.", f"encoder.layer.{i}."
        for part in ("weight", "bias"):
            q, k, v = _split_qkv(src[f"{a}attn.qkv.{part}"])
            state.update({f"{b}attention.q_proj.{part}": q, f"{b}attention.k_proj.{part}": k,
                          f"{b}attention.v_proj.{part}": v})
            for old, new in (("attn.proj", "attention.o_proj"), ("norm1", "norm1"), ("norm2", "norm2"),
                             ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2")):
                state[f"{b}{new}.{part}"] = src[f"{a}{old}.{part}"]
        # a ViT without layer scale is one with scale 1
        state[f"{b}layer_scale1.lambda1"] = src.get(f"{a}ls1.gamma", ones).clone()  # own storage: saved apart
        state[f"{b}layer_scale2.lambda1"] = src.get(f"{a}ls2.gamma", ones).clone()
    _check_keys(Dinov2Model, config, state, what)
    prefix = 0 if not encoder.drop_cls else 1  # drop_cls: TimmEncoder returns the patch tokens only
    return ConvertedTower(config, state, encoder.layer_index - depth, _strategy(encoder.drop_cls, prefix, what), 1)


def as_rgb(tower: ConvertedTower) -> ConvertedTower:
    """A 1-channel (grayscale) tower as a 3-channel one that reads the RGB copy of a grey image (LUMA)."""
    if int(tower.config.num_channels) == 3:
        return tower
    key = next(k for k in PATCH_WEIGHTS if k in tower.state)
    weight = tower.state[key]
    tower.state[key] = torch.cat([weight * c for c in LUMA], dim=1)
    tower.config.num_channels = 3
    return tower


def convert_tower(encoder: Any, name: str) -> ConvertedTower:
    """The transformers form of a radzoo encoder (3-channel), or ExportRefused saying why there is none."""
    kind = type(encoder).__name__
    converters = {"HFVisionEncoder": from_transformers, "OpenClipViTEncoder": from_open_clip,
                  "TimmEncoder": from_timm_vit}
    if kind in converters:
        return as_rgb(converters[kind](encoder, name))
    raise ExportRefused(f"encoder {name!r} ({kind}) has no transformers equivalent; the LLaVA export converts "
                        "CLIP, SigLIP and DINOv2 towers")
