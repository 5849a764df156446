"""A transformers ``LlavaForConditionalGeneration`` directory (e.g. ``llava-hf/llava-1.5-7b-hf``, or a radzoo export).

Both key layouts load: transformers >= 4.52 (``model.vision_tower.*``, ``model.multi_modal_projector.*``,
``model.language_model.*``, ``lm_head.*``) and the older one (``vision_tower.*``, ``multi_modal_projector.*``,
``language_model.model.*``, ``language_model.lm_head.*``). The CLIP tower becomes a ``CLIPVisionModel``
directory (with the release's ``preprocessor_config.json``) read by the ``clip`` encoder at
``vision_feature_layer`` ("default" strategy: CLS dropped); ``linear_1``/GELU/``linear_2`` becomes
``mlp2x_gelu``. Llava expands ``<image>`` to ``image_seq_length`` real tokens where radzoo splices the image
embeddings at LLaVA's sentinel; the LLM sees the same sequence. The prompt is LLaVA-1.5's Vicuna v1
conversation (with its system text) for Llama text models.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from radzoo.runs.importers import run_writer
from radzoo.runs.importers.lm_shards import copy_tokenizer, stream_lm, weight_files
from radzoo.runs.importers.run_writer import ImportInfo, ReleaseError

HUB_ID = "llava-hf/llava-1.5-7b-hf"
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


def write_clip_tower(vision_config: dict, tower: dict[str, torch.Tensor], src: Path, out_dir: Path,
                     dtype: torch.dtype | None) -> None:
    """A ``CLIPVisionModel`` directory (weights loaded strictly, saved in the released or requested dtype)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(**{k: v for k, v in vision_config.items() if k != "model_type"})
    model = CLIPVisionModel(config)
    # transformers < 5 named the tensors vision_model.*; 5 drops that level
    own = set(model.state_dict())
    state = {k if k in own else k.removeprefix("vision_model."): v for k, v in tower.items()}
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ReleaseError(f"the vision tower does not fit its vision_config: {' '.join(str(exc).split())[:300]}") \
            from None
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ReleaseError(f"the vision tower does not fit its vision_config: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    released = next(iter(tower.values())).dtype
    model.to(dtype or released).save_pretrained(out_dir)
    if (src / "preprocessor_config.json").is_file():
        shutil.copyfile(src / "preprocessor_config.json", out_dir / "preprocessor_config.json")


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


def import_into(stage: Path, src: Path, base_llm: Path | None, dtype: str | None) -> ImportInfo:
    """Write a transformers LLaVA directory into ``stage``."""
    from transformers import AutoConfig

    from radzoo.runs.store import WEIGHTS_FILE, save_weights

    run_writer.require_files(src, ["config.json"], HUB_ID, "transformers LLaVA directory")
    config = run_writer.read_json(src / "config.json")
    if "vision_config" not in config or "text_config" not in config:
        raise ReleaseError(f"{src / 'config.json'} is not a LlavaForConditionalGeneration config "
                           "(no vision_config/text_config)")
    vision = config["vision_config"]
    if vision.get("model_type") != "clip_vision_model":
        raise ReleaseError(f"vision tower {vision.get('model_type')!r}: the llava-hf import reads CLIP towers "
                           "(clip_vision_model) only")
    layer = config.get("vision_feature_layer", -2)
    if not isinstance(layer, int):
        raise ReleaseError(f"vision_feature_layer {layer!r}: a list of layers is not supported")
    text = dict(config["text_config"])
    text_type = text.pop("model_type", "llama")
    if text_type not in PROMPT_FORMATS:
        raise ReleaseError(f"text model {text_type!r}: supported are {', '.join(PROMPT_FORMATS)}")
    out_dtype = run_writer.target_dtype(dtype)
    text_config = AutoConfig.for_model(text_type, **text)
    files = weight_files(src)
    keep: dict[str, torch.Tensor] = {}
    stream_lm(files, stage / "llm", text_config, out_dtype, rename=llm_name, keep=keep)
    tokenizer_files = copy_tokenizer(src, stage / "llm", "LLaVA directory")
    tower = strip_prefix(keep, TOWER_PREFIXES)
    if not tower:
        raise ReleaseError(f"{src}: no vision_tower.* tensors")
    write_clip_tower(vision, tower, src, stage / run_writer.ENCODER_DIR, out_dtype)
    save_weights(projector(keep, config, out_dtype), stage / WEIGHTS_FILE)
    fmt = PROMPT_FORMATS[text_type]
    drop_cls = config.get("vision_feature_select_strategy", "default") == "default"
    encoder = {"name": "clip", "args": {"hf_path": run_writer.ENCODER_DIR, "select_layer": layer, "drop_cls": drop_cls}}
    recipe = run_writer.base_recipe(
        f"{src.resolve().name}-imported", f"transformers LLaVA directory {src.resolve().name}, imported", "",
        encoder, {"name": "mlp2x_gelu", "args": {}}, fmt,
        {"instruction": "<image>\nProvide a description of the findings in the radiology image."},
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
