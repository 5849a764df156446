"""A transformers ``LlavaForConditionalGeneration`` directory (e.g. ``llava-hf/llava-1.5-7b-hf``, or a radzoo export).

Both key layouts load: transformers >= 4.52 (``model.vision_tower.*``, ``model.multi_modal_projector.*``,
``model.language_model.*``, ``lm_head.*``) and the older one (``vision_tower.*``, ``multi_modal_projector.*``,
``language_model.model.*``, ``language_model.lm_head.*``). A CLIP tower becomes a ``CLIPVisionModel``
directory (with the release's ``preprocessor_config.json``) read by the ``clip`` encoder at
``vision_feature_layer`` ("default" strategy: CLS dropped), a DINOv2 tower (what radzoo exports
BiomedCLIP-CXR and RAD-DINO to) a ``Dinov2Model`` directory read by ``rad-dino``; ``linear_1``/GELU/``linear_2`` becomes
``mlp2x_gelu``. Llava expands ``<image>`` to ``image_seq_length`` real tokens where radzoo splices the image
embeddings at LLaVA's sentinel; the LLM sees the same sequence. A Llama release gets llava-hf's own LLaVA-1.5
chat template (format ``llava_hf``: "USER: <image>\n... ASSISTANT:", no system text, the rendered text tokenized
as one, as transformers' processor does); a radzoo export gets back the format it was exported from.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from radzoo.files.weight_files import save_weights
from radzoo.interop.releases import run_writer
from radzoo.interop.releases.lm_shards import copy_tokenizer, stream_lm, weight_files
from radzoo.interop.releases.run_writer import ImportInfo, ReleaseError
from radzoo.interop.releases.towers import write_clip_tower, write_dinov2_tower
from radzoo.runs.layout import WEIGHTS_FILE

HUB_ID = "llava-hf/llava-1.5-7b-hf"
EXPORT_INFO = "radzoo_export.json"  # a radzoo llava-hf export's record of the recipe's instructions
# text model_type -> the radzoo prompt format its LLaVA releases were trained with
PROMPT_FORMATS = {"llama": "vicuna_v1", "mistral": "mistral_instruct", "phi": "phi"}
LLM_PREFIXES = (("model.language_model.", "model."), ("language_model.model.", "model."),
                ("language_model.lm_head.", "lm_head."), ("lm_head.", "lm_head."))
TOWER_PREFIXES = ("model.vision_tower.", "vision_tower.")
PROJECTOR_PREFIXES = ("model.multi_modal_projector.", "multi_modal_projector.")


def llm_name(name: str) -> str | None:
    """The causal-LM name of a Llava tensor (either layout), or None for tower/projector tensors."""
    for old, new in LLM_PREFIXES:
        if name.startswith(old):
            return new + name[len(old):]
    return None


def strip_prefix(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {k[len(p):]: v for k, v in state.items() for p in prefixes if k.startswith(p)}


def projector(keep: dict[str, torch.Tensor], config: dict, dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    if config.get("projector_hidden_act", "gelu") != "gelu":
        raise ReleaseError(f"projector_hidden_act {config['projector_hidden_act']!r}: radzoo's mlp2x_gelu needs gelu")
    tensors = strip_prefix(keep, PROJECTOR_PREFIXES)
    names = {"linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias"}
    if set(tensors) != names:
        raise ReleaseError(f"the projector tensors are {sorted(tensors)}, expected linear_1/linear_2 weights and "
                           "biases (multimodal_projector_bias true)")
    layer = {"linear_1": "0", "linear_2": "2"}
    return {f"adapter.mlp.{layer[k.split('.')[0]]}.{k.split('.')[1]}": run_writer.cast(v, dtype)
            for k, v in tensors.items()}


def _prompt(info: dict) -> dict:
    """The prompt section: a radzoo export's own instructions (``info``, with the indication variant), else
    LLaVA-1.5's (``info`` empty: a release)."""
    prompt = {"instruction": info.get("instruction")
              or "<image>\nProvide a description of the findings in the radiology image."}
    if info.get("instruction_with_indication"):
        prompt["instruction_with_indication"] = info["instruction_with_indication"]
    return prompt


def import_into(stage: Path, src: Path, base_llm: Path | None, dtype: str | None) -> ImportInfo:
    """Write a transformers LLaVA directory into ``stage``."""
    from transformers import AutoConfig

    run_writer.require_files(src, ["config.json"], HUB_ID, "transformers LLaVA directory")
    config = run_writer.read_json(src / "config.json")
    if "vision_config" not in config or "text_config" not in config:
        raise ReleaseError(f"{src / 'config.json'} is not a LlavaForConditionalGeneration config "
                           "(no vision_config/text_config)")
    vision = config["vision_config"]
    tower_type = vision.get("model_type")
    if tower_type not in ("clip_vision_model", "dinov2"):
        raise ReleaseError(f"vision tower {tower_type!r}: the llava-hf import reads CLIP (clip_vision_model) and "
                           "DINOv2 towers")
    layer = config.get("vision_feature_layer", -2)
    if not isinstance(layer, int):
        raise ReleaseError(f"vision_feature_layer {layer!r}: a list of layers is not supported")
    if tower_type == "dinov2" and layer in (-1, vision.get("num_hidden_layers", 12) - 1):
        # Llava reads hidden_states[-1] before Dinov2's final layernorm; rad-dino's last layer is after it
        raise ReleaseError("vision_feature_layer -1 of a DINOv2 tower (before its final layernorm) has no radzoo "
                           "encoder; earlier layers import")
    text = dict(config["text_config"])
    text_type = text.pop("model_type", "llama")
    if text_type not in PROMPT_FORMATS:
        raise ReleaseError(f"text model {text_type!r}: supported are {', '.join(PROMPT_FORMATS)}")
    out_dtype = run_writer.target_dtype(dtype)
    text_config = AutoConfig.for_model(text_type, **text)
    files = weight_files(src)
    keep: dict[str, torch.Tensor] = {}
    stream_lm(files, stage / run_writer.LLM_DIR, text_config, out_dtype, rename=llm_name, keep=keep)
    tokenizer_files = copy_tokenizer(src, stage / run_writer.LLM_DIR, "LLaVA directory")
    tower = strip_prefix(keep, TOWER_PREFIXES)
    if not tower:
        raise ReleaseError(f"{src}: no vision_tower.* tensors")
    write_tower = write_clip_tower if tower_type == "clip_vision_model" else write_dinov2_tower
    write_tower(vision, tower, src, stage / run_writer.ENCODER_DIR, out_dtype)
    save_weights(projector(keep, config, out_dtype), stage / WEIGHTS_FILE)
    # a radzoo export's template renders its recipe's format and it keeps its run's transform (crop rounding as
    # recorded); a llava-hf release is LLaVA-1.5's own template, and transformers' image processor, which floors an
    # odd crop margin
    release = not (src / EXPORT_INFO).is_file()
    info = {} if release else run_writer.read_json(src / EXPORT_INFO)
    crop = "floor" if release else str(info.get("crop_rounding", "round"))
    fmt = "llava_hf" if text_type == "llama" and release else PROMPT_FORMATS[text_type]
    drop_cls = config.get("vision_feature_select_strategy", "default") == "default"
    # the clip encoder takes a transformers directory as hf_path, rad-dino (any Dinov2Model) as path
    path_key, name = ("hf_path", "clip") if tower_type == "clip_vision_model" else ("path", "rad-dino")
    encoder = {"name": name, "args": {path_key: run_writer.ENCODER_DIR, "select_layer": layer, "drop_cls": drop_cls,
                                      "crop_rounding": crop}}
    recipe = run_writer.base_recipe(
        f"{src.resolve().name}-imported", f"transformers LLaVA directory {src.resolve().name}, imported", "",
        encoder, {"name": "mlp2x_gelu", "args": {}}, fmt,
        _prompt(info),
        {"max_new_tokens": 256, "do_sample": False, "num_beams": 1})
    extra = [src / n for n in ("preprocessor_config.json", "processor_config.json") if (src / n).is_file()]
    return ImportInfo(
        recipe=recipe, hub_id=str(config.get("_name_or_path") or HUB_ID),
        license="as stated by the source repository (not recorded in its files)",
        sources=[src / "config.json", *files, *tokenizer_files, *extra],
        conversions=[f"Llava key layout -> llm/ (causal LM), encoder/ (CLIPVisionModel), adapter.mlp.{{0,2}}; "
                     f"{len(tower)} tower tensors, image token {config.get('image_token_index')} replaced by "
                     "radzoo's image splice",
                     json.dumps({"vision_feature_layer": layer,
                                 "vision_feature_select_strategy": config.get("vision_feature_select_strategy")})])
