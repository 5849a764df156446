"""CXR-LLaVA v2 (``ECOFRI/CXR-LLAVA-v2``): a full model in one ``CXRLLAVAModel`` state dict, never run as remote code.

Release files: ``config.json`` (``clip_vision_cfg``, ``clip_embed_dim``, ``image_preprocess_cfg`` with a scalar
mean/std, a nested ``llama`` LlamaConfig dict), ``model-0000N-of-00003.safetensors`` + index (the duplicate
``pytorch_model-*.bin`` pickles are used only when there are no safetensors), and the LLaMA-2 tokenizer files.
Keys: ``llama.*`` (a LlamaModel) + ``lm_head.weight`` become ``llm/`` (``model.*``, ``lm_head.*``);
``vision_tower.*`` (open_clip ViT with a 1-channel ``conv1``) goes to ``encoder/`` for ``cxr-llava-vit``;
``mm_projector.{weight,bias}`` (one Linear) becomes the ``linear`` adapter. The recipe keeps the release's
choices: one grey channel normalised with the scalar mean/std after a Lanczos (the processor's
``resample=True``) shortest-side resize and centre crop, ``ln_post`` on every token before dropping CLS,
and the LLaMA-2-chat prompt written out (system "You are a helpful radiologist...") instead of relying on a
tokenizer's default template, which transformers >= 4.44 no longer has. The official code renders that template
to text starting with a literal ``<s>`` and tokenizes it with the slow ``LlamaTokenizer`` (``legacy: false``), so
the ids start with two BOS and no dummy-prefix piece after the second (format ``llama_2_chat_template``); the
tokenizer is rebuilt from ``tokenizer.model`` as that code reads it, not taken from the shipped ``tokenizer.json``.
Checked against the official code on a replica: docs/CONFORMANCE.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from radzoo.runs.importers import run_writer
from radzoo.runs.importers.lm_shards import copy_tokenizer, stream_lm, weight_files
from radzoo.runs.importers.run_writer import ImportInfo, ReleaseError
from radzoo.runs.store import WEIGHTS_FILE, save_weights

HUB_ID = "ECOFRI/CXR-LLAVA-v2"
SYSTEM = ("You are a helpful radiologist. Try to interpret chest x ray image and answer to the question that user "
          "provides.")
QUESTION = ("Write a radiologic report on the given chest radiograph, including information about atelectasis, "
            "cardiomegaly, consolidation, pulmonary edema, pleural effusion, and pneumothorax.")
TOWER_CONFIG_KEYS = ("clip_vision_cfg", "clip_embed_dim", "clip_quick_gelu", "image_preprocess_cfg")


def llm_name(name: str) -> str | None:
    if name.startswith("llama."):
        return "model." + name[len("llama."):]
    return name if name == "lm_head.weight" else None


def write_tower(config: dict, tower: dict[str, torch.Tensor], out_dir: Path, dtype: torch.dtype | None) -> None:
    """The ``cxr-llava-vit`` encoder's files: the tower part of config.json and the ``vision_tower.*`` tensors."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    subset = {k: config[k] for k in TOWER_CONFIG_KEYS if k in config}
    (out_dir / "config.json").write_text(json.dumps(subset, indent=1) + "\n", encoding="utf-8")
    save_file({k: run_writer.cast(v, dtype) for k, v in tower.items()}, str(out_dir / "model.safetensors"),
              metadata={"format": "pt"})


def import_into(stage: Path, src: Path, base_llm: Path | None, dtype: str | None) -> ImportInfo:
    """Write CXR-LLaVA v2 into ``stage``."""
    from transformers import AutoConfig

    run_writer.require_files(src, ["config.json"], HUB_ID, "CXR-LLaVA release")
    config = run_writer.read_json(src / "config.json")
    if "clip_vision_cfg" not in config or not isinstance(config.get("llama"), dict):
        raise ReleaseError(f"{src / 'config.json'} is not a CXR-LLaVA config (no clip_vision_cfg / llama)")
    out_dtype = run_writer.target_dtype(dtype)
    llama = {k: v for k, v in config["llama"].items() if k not in ("model_type", "architectures", "_name_or_path")}
    text_config = AutoConfig.for_model("llama", **llama)
    files = weight_files(src)
    keep: dict[str, torch.Tensor] = {}
    stream_lm(files, stage / "llm", text_config, out_dtype, rename=llm_name, keep=keep)
    tokenizer_files = copy_tokenizer(src, stage / "llm", "CXR-LLaVA release", skip=("tokenizer.json",))
    tower = {k[len("vision_tower."):]: v for k, v in keep.items() if k.startswith("vision_tower.")}
    if not tower:
        raise ReleaseError(f"{src}: no vision_tower.* tensors")
    write_tower(config, {f"vision_tower.{k}": v for k, v in tower.items()}, stage / run_writer.ENCODER_DIR, out_dtype)
    projector = {f"adapter.proj.{k.split('.', 1)[1]}": run_writer.cast(v, out_dtype) for k, v in keep.items()
                 if k.startswith("mm_projector.")}
    if set(projector) != {"adapter.proj.weight", "adapter.proj.bias"}:
        raise ReleaseError(f"{src}: expected mm_projector.weight and mm_projector.bias (one Linear), found "
                           f"{sorted(k for k in keep if k.startswith('mm_projector'))}")
    unknown = sorted(k for k in keep if not k.startswith(("vision_tower.", "mm_projector.")))
    if unknown:
        raise ReleaseError(f"{src}: tensor {unknown[0]!r} is not part of a CXR-LLaVA model")
    save_weights(projector, stage / WEIGHTS_FILE)
    encoder = {"name": "cxr-llava-vit", "args": {"path": run_writer.ENCODER_DIR, "select_layer": -1,
                                                 "interpolation": "lanczos", "crop_rounding": "floor"}}
    recipe = run_writer.base_recipe(
        "cxr-llava-published", "CXR-LLaVA v2 as released (ECOFRI/CXR-LLAVA-v2)", "arXiv:2310.18341",
        encoder, {"name": "linear", "args": {}}, "llama_2_chat_template",
        {"system": SYSTEM, "instruction": f"<image>\n{QUESTION}"},
        {"max_new_tokens": 512, "do_sample": False, "num_beams": 1})
    return ImportInfo(
        recipe=recipe, hub_id=HUB_ID, license="CC-BY-NC-4.0 (ECOFRI/CXR-LLAVA-v2); LLM: Llama 2 Community License",
        sources=[src / "config.json", *files, *tokenizer_files],
        conversions=["llama.* -> llm/model.*, lm_head.weight kept (LlamaForCausalLM built from config['llama'])",
                     f"vision_tower.* ({len(tower)} tensors) -> encoder/model.safetensors with config.json's "
                     "clip_vision_cfg, clip_embed_dim, clip_quick_gelu, image_preprocess_cfg",
                     "mm_projector.{weight,bias} -> adapter.proj (linear)",
                     "CXRLLAVAModel's remote code (CXR_LLAVA_HF.py) not run; LLaMA-2-chat prompt written out",
                     "tokenizer.json not copied: the tokenizer is rebuilt from tokenizer.model (legacy: false), "
                     "which the official slow LlamaTokenizer reads"])
