"""LLaVA-Rad (``microsoft/llava-rad``): a PEFT LoRA, a projector and an open_clip tower; the LLM comes from --base-llm.

Release files: ``config.json`` (LlavaConfig, the mm_* fields), ``adapter_config.json`` + ``adapter_model.bin``
(PEFT LoRA r64/alpha128 on the 7 Llama linears), ``non_lora_trainables.bin`` (``...mm_projector.{0,2}.*``),
``biomedclipcxr_518.json`` + ``biomedclipcxr_518_checkpoint.pt`` (an open_clip training checkpoint:
``{"state_dict": {"module.visual.trunk.*", "module.text.*", ...}}``). The base LLM is Vicuna-7B v1.5.

Conversions: the LoRA is merged into each base weight as its shard streams past (``W + alpha/r * B @ A``,
in float32, stored back in the base dtype); the tower's ``visual.*`` tensors become an open_clip local-dir
(the BiomedBERT text tower is dropped, never built); the projector becomes ``adapter.mlp.*``. The recipe keeps
LLaVA-Rad's choices: block ``mm_vision_select_layer`` (-2) without the final norm, CLS dropped, OpenAI CLIP
mean/std after a bicubic shortest-side resize and centre crop, the Vicuna v1 prompt, greedy 256 tokens.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch

from radzoo.errors import InputError, MissingFileError
from radzoo.files.weight_files import read_weights, save_weights
from radzoo.interop.releases import run_writer
from radzoo.interop.releases.lm_shards import copy_tokenizer, stream_lm, weight_files
from radzoo.interop.releases.run_writer import ImportInfo, ReleaseError
from radzoo.runs.layout import WEIGHTS_FILE

HUB_ID = "microsoft/llava-rad"
BASE_HUB_ID = "lmsys/vicuna-7b-v1.5"
TOWER_CONFIG = "biomedclipcxr_518.json"
TOWER_CHECKPOINT = "biomedclipcxr_518_checkpoint.pt"
RELEASE_FILES = ["config.json", "adapter_config.json", "non_lora_trainables.bin", TOWER_CONFIG, TOWER_CHECKPOINT]
ADAPTER_FILES = ("adapter_model.bin", "adapter_model.safetensors")
LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.default)?\.weight$")
QUESTION = "Provide a description of the findings in the radiology image."
QUESTION_WITH_INDICATION = ("Provide a description of the findings in the radiology image given the following "
                            "indication: {indication}")


def projector_state(state: dict[str, torch.Tensor], projector_type: str, source: Path,
                    dtype: torch.dtype | None) -> tuple[dict[str, torch.Tensor], dict]:
    """LLaVA ``...mm_projector.*`` tensors as radzoo adapter tensors, plus the adapter's recipe entry."""
    tensors = {k.split("mm_projector.", 1)[1]: v for k, v in state.items() if "mm_projector." in k}
    if not tensors:
        raise ReleaseError(f"{source} holds no mm_projector.* tensors (first keys: {', '.join(list(state)[:3])})")
    if projector_type == "linear":
        state = {f"adapter.proj.{k}": run_writer.cast(v, dtype) for k, v in tensors.items()}
        return state, {"name": "linear", "args": {}}
    depth = re.fullmatch(r"mlp(\d+)x_gelu", projector_type)
    if depth is None:
        raise ReleaseError(f"{source}: projector type {projector_type!r} is not linear or mlpNx_gelu")
    args = {"depth": int(depth.group(1))} if int(depth.group(1)) != 2 else {}
    state = {f"adapter.mlp.{k}": run_writer.cast(v, dtype) for k, v in tensors.items()}
    return state, {"name": "mlp2x_gelu", "args": args}


# BiomedCLIP's preprocessing (open_clip's OPENAI_DATASET_MEAN/STD), which the release's tower was trained with
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def write_open_clip_tower(checkpoint: Path, config_file: Path, out_dir: Path, dtype: torch.dtype | None) -> int:
    """The open_clip checkpoint's ``visual.*`` tensors + model config as an open_clip local-dir; returns #tensors."""
    from safetensors.torch import save_file

    model_cfg = run_writer.read_json(config_file)
    if "vision_cfg" not in model_cfg:
        raise ReleaseError(f"{config_file} is not an open_clip model config (no 'vision_cfg')")
    state = read_weights(checkpoint)
    visual = {k: run_writer.cast(v, dtype) for k, v in state.items() if k.startswith("visual.")}
    if not visual:
        raise ReleaseError(f"{checkpoint} holds no visual.* tensors (first keys: {', '.join(list(state)[:3])})")
    out_dir.mkdir(parents=True, exist_ok=True)
    # only the image half: the text half (BiomedBERT) would make open_clip reach the hub for its config
    config = {"model_cfg": {"embed_dim": model_cfg["embed_dim"], "vision_cfg": model_cfg["vision_cfg"]},
              "preprocess_cfg": {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD), "interpolation": "bicubic",
                                 "resize_mode": "shortest"}}
    (out_dir / "open_clip_config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    save_file(visual, str(out_dir / "open_clip_model.safetensors"), metadata={"format": "pt"})
    return len(visual)


def read_lora(src: Path, adapter_file: Path, base_config: dict) -> tuple[dict[str, tuple], float, str]:
    """{target weight name: (A, B)}, the merge scale and its description, from the PEFT adapter."""
    cfg = run_writer.read_json(src / "adapter_config.json")
    if str(cfg.get("peft_type", "LORA")).upper() != "LORA" or "r" not in cfg or "lora_alpha" not in cfg:
        raise ReleaseError(f"{src / 'adapter_config.json'} is not a PEFT LoRA config (peft_type LORA, r, lora_alpha)")
    if cfg.get("bias", "none") != "none" or cfg.get("fan_in_fan_out"):
        raise ReleaseError(f"{src / 'adapter_config.json'}: bias={cfg.get('bias')!r} / fan_in_fan_out LoRA "
                           "cannot be merged by radzoo (LLaVA-Rad's is bias none)")
    r, alpha = int(cfg["r"]), float(cfg["lora_alpha"])
    rs = bool(cfg.get("use_rslora"))
    scale = alpha / math.sqrt(r) if rs else alpha / r
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in read_weights(adapter_file).items():
        match = LORA_KEY.match(key)
        if match is None:
            raise ReleaseError(f"{adapter_file}: {key!r} is not a LoRA tensor (modules_to_save are not supported)")
        pairs.setdefault(f"{match.group(1)}.weight", {})[match.group(2)] = tensor
    lora = {}
    for name, ab in pairs.items():
        if set(ab) != {"A", "B"}:
            raise ReleaseError(f"{adapter_file}: {name} has lora_{'A' if 'A' not in ab else 'B'} missing")
        lora[name] = (ab["A"], ab["B"])
    how = f"LoRA merged with alpha/{'sqrt(r)' if rs else 'r'} = {scale:g} (r={r}, alpha={alpha:g}, {2 * len(lora)} " \
          "tensors): W + scale * B @ A, computed in float32, stored in the base weight's dtype"
    return lora, scale, how


def import_into(stage: Path, src: Path, base_llm: Path | None, dtype: str | None) -> ImportInfo:
    """Write LLaVA-Rad (LoRA merged into ``base_llm``) into ``stage``."""
    from transformers import AutoConfig

    run_writer.require_files(src, RELEASE_FILES, HUB_ID, "LLaVA-Rad release")
    adapter_file = next((src / n for n in ADAPTER_FILES if (src / n).is_file()), None)
    if adapter_file is None:
        raise MissingFileError(f"{src / ADAPTER_FILES[0]} not found: the LLaVA-Rad release needs it; get it with "
                               f"`hf download {HUB_ID} --local-dir {src}`")
    if base_llm is None:
        raise InputError(f"llava-rad ships no language model: pass --base-llm DIR holding Vicuna-7B v1.5 "
                         f"(`hf download {BASE_HUB_ID} --local-dir DIR`)")
    run_writer.require_files(base_llm, ["config.json"], BASE_HUB_ID, "base LLM (--base-llm)")
    config = run_writer.read_json(src / "config.json")
    if "mm_projector_type" not in config or "mm_vision_select_layer" not in config:
        raise ReleaseError(f"{src / 'config.json'} is not a LLaVA config (no mm_projector_type / "
                           "mm_vision_select_layer): is this the llava-rad release?")
    if config.get("mm_use_im_start_end") or config.get("mm_use_im_patch_token"):
        raise ReleaseError(f"{src / 'config.json'}: mm_use_im_start_end/mm_use_im_patch_token are not supported")
    out_dtype = run_writer.target_dtype(dtype)
    base_cfg = AutoConfig.from_pretrained(base_llm)
    for key in ("hidden_size", "num_hidden_layers", "vocab_size"):
        if key in config and getattr(base_cfg, key) != config[key]:
            raise ReleaseError(f"--base-llm {base_llm}: {key}={getattr(base_cfg, key)} but the release was trained "
                               f"on {key}={config[key]} (pass Vicuna-7B v1.5)")
    lora, scale, how = read_lora(src, adapter_file, config)
    merged: set[str] = set()

    def merge(name: str, weight: torch.Tensor) -> torch.Tensor:
        if name not in lora:
            return weight
        a, b = lora[name]
        if (b.shape[0], a.shape[1]) != tuple(weight.shape):
            raise ReleaseError(f"{adapter_file}: LoRA of {name} is {b.shape[0]}x{a.shape[1]}, the base weight is "
                               f"{tuple(weight.shape)} (shape mismatch)")
        merged.add(name)
        return (weight.float() + scale * (b.float() @ a.float())).to(weight.dtype)

    files = weight_files(base_llm)
    stream_lm(files, stage / run_writer.LLM_DIR, base_cfg, out_dtype, rename=lambda n: n, transform=merge)
    if set(lora) - merged:
        raise ReleaseError(f"{adapter_file}: LoRA target {sorted(set(lora) - merged)[0]} is not in the base LLM")
    tokenizer_files = copy_tokenizer(base_llm, stage / run_writer.LLM_DIR, "base LLM (--base-llm)")
    n_tower = write_open_clip_tower(src / TOWER_CHECKPOINT, src / TOWER_CONFIG, stage / run_writer.ENCODER_DIR,
                                    out_dtype)
    adapter_state, adapter = projector_state(read_weights(src / "non_lora_trainables.bin"),
                                             config["mm_projector_type"], src / "non_lora_trainables.bin", out_dtype)

    save_weights(adapter_state, stage / WEIGHTS_FILE)
    encoder = {"name": "biomedclip-cxr-518",
               "args": {"path": run_writer.ENCODER_DIR, "select_layer": int(config["mm_vision_select_layer"]),
                        "drop_cls": config.get("mm_vision_select_feature", "patch") == "patch"}}
    recipe = run_writer.base_recipe(
        "llava-rad-published", "LLaVA-Rad as released (microsoft/llava-rad), LoRA merged into Vicuna-7B v1.5",
        "arXiv:2403.08002", encoder, adapter, "vicuna_v1",
        {"instruction": f"<image>\n{QUESTION}", "instruction_with_indication": f"<image>\n{QUESTION_WITH_INDICATION}"},
        {"max_new_tokens": 256, "do_sample": False, "num_beams": 1})
    return ImportInfo(
        recipe=recipe, hub_id=HUB_ID, license="MSRLA (microsoft/llava-rad); base LLM: Llama 2 Community License",
        sources=[src / n for n in RELEASE_FILES] + [adapter_file, base_llm / "config.json", *files,
                                                    *tokenizer_files],
        conversions=[how,
                     f"{TOWER_CHECKPOINT}: open_clip training checkpoint unwrapped (state_dict, DDP 'module.' "
                     f"prefix); {n_tower} visual.* tensors kept as encoder/open_clip_model.safetensors; the "
                     "BiomedBERT text tower dropped",
                     f"non_lora_trainables.bin: mm_projector.* -> adapter.* ({config['mm_projector_type']})",
                     "pickles (.bin/.pt) read with torch.load(weights_only=True)"])
