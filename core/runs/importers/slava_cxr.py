"""SLaVA-CXR (``bluesky333/SLaVA-CXR``): a LLaVA-Phi model (CLIP tower, projector, Phi-2), as sharded safetensors.

``config.json`` is a ``LlavaPhiConfig``: Phi-2's fields at the top and a nested ``vision_config`` with
``vision_tower`` (CLIPVisionConfig fields + ``mm_vision_select_layer``/``mm_vision_select_feature``) and
``mm_projector`` (``mm_projector_type``). Keys: ``model.vision_tower.vision_model.*`` become a
``CLIPVisionModel`` directory for the ``clip`` encoder (with ``preprocessor_config.json``: CLIP resize and
centre crop, no pad-to-square at evaluation); ``model.mm_projector.weight|bias`` (``linear``) or
``model.mm_projector.{0,2}.*`` (``mlp2x_gelu``) become the adapter, whichever the release holds; the rest
(``model.*`` Phi-2 and ``lm_head.{weight,bias}``) is ``llm/``. The prompt is LLaVA-Phi's ``conv_phi_v0``
(``phi``), decoding greedy with ``no_repeat_ngram_size=3``. Unlike the official builder, the directory's name
does not matter. Phi's attention is taken in either form: ``self_attn.{q,k,v}_proj`` (transformers >= 4.37) or
the fused ``self_attn.query_key_value`` that transformers 4.36.2 (the version SLaVA-CXR pins) saves, whose rows
run head by head as (q, k, v) blocks; the latter is split. Checked against the official code: docs/CONFORMANCE.md.
"""

from __future__ import annotations

from pathlib import Path

import torch

from radzoo.runs.importers import run_writer
from radzoo.runs.importers.llava_rad import projector_state
from radzoo.runs.importers.lm_shards import copy_tokenizer, stream_lm, weight_files
from radzoo.runs.importers.run_writer import ImportInfo, ReleaseError
from radzoo.runs.importers.towers import write_clip_tower
from radzoo.runs.store import WEIGHTS_FILE, save_weights

HUB_ID = "bluesky333/SLaVA-CXR"
NOT_LLM = ("model.vision_tower.", "model.mm_projector.")
NOT_PHI_FIELDS = ("model_type", "architectures", "auto_map", "_name_or_path", "vision_config", "transformers_version")


def split_fused_qkv(num_heads: int):
    """``split`` for stream_lm: transformers 4.36's ``query_key_value`` (rows: head, then q/k/v, then head_dim)."""

    def split(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
        if ".self_attn.query_key_value." not in name:
            return {name: tensor}
        rows = tensor.shape[0]
        if rows % (3 * num_heads):
            raise ReleaseError(f"{name}: {rows} rows do not split into q, k, v for {num_heads} heads")
        parts = tensor.reshape(num_heads, 3, rows // (3 * num_heads), *tensor.shape[1:])
        return {name.replace("query_key_value", f"{p}_proj"): parts[:, i].reshape(rows // 3, *tensor.shape[1:])
                for i, p in enumerate("qkv")}

    return split


def import_into(stage: Path, src: Path, base_llm: Path | None, dtype: str | None) -> ImportInfo:
    """Write SLaVA-CXR into ``stage``."""
    from transformers import AutoConfig

    run_writer.require_files(src, ["config.json", "preprocessor_config.json"], HUB_ID, "SLaVA-CXR release")
    config = run_writer.read_json(src / "config.json")
    vision = config.get("vision_config")
    if not isinstance(vision, dict) or "vision_tower" not in vision or "mm_projector" not in vision:
        raise ReleaseError(f"{src / 'config.json'} is not a LLaVA-Phi config (no vision_config.vision_tower / "
                           "vision_config.mm_projector)")
    tower_cfg = vision["vision_tower"]
    out_dtype = run_writer.target_dtype(dtype)
    phi = {k: v for k, v in config.items() if k not in NOT_PHI_FIELDS and not k.startswith("mm_")}
    text_config = AutoConfig.for_model("phi", **phi)
    files = weight_files(src)
    keep: dict[str, torch.Tensor] = {}
    stream_lm(files, stage / "llm", text_config, out_dtype,
              rename=lambda n: None if n.startswith(NOT_LLM) else n, keep=keep,
              split=split_fused_qkv(text_config.num_attention_heads))
    tokenizer_files = copy_tokenizer(src, stage / "llm", "SLaVA-CXR release")
    tower = {k[len("model.vision_tower."):]: v for k, v in keep.items() if k.startswith("model.vision_tower.")}
    if not tower:
        raise ReleaseError(f"{src}: no model.vision_tower.* tensors")
    clip_fields = {k: v for k, v in tower_cfg.items() if not k.startswith("mm_")}
    write_clip_tower(clip_fields, tower, src, stage / run_writer.ENCODER_DIR, out_dtype)
    projector_type = vision["mm_projector"].get("mm_projector_type", "linear")
    adapter_state, adapter = projector_state({k: v for k, v in keep.items() if "mm_projector." in k},
                                             projector_type, src, out_dtype)
    save_weights(adapter_state, stage / WEIGHTS_FILE)
    encoder = {"name": "clip", "args": {"hf_path": run_writer.ENCODER_DIR, "crop_rounding": "floor",
                                        "select_layer": int(tower_cfg.get("mm_vision_select_layer", -2)),
                                        "drop_cls": tower_cfg.get("mm_vision_select_feature", "patch") == "patch"}}
    recipe = run_writer.base_recipe(
        "slava-cxr-published", "SLaVA-CXR as released (bluesky333/SLaVA-CXR): CLIP + Phi-2", "arXiv:2409.13321",
        encoder, adapter, "phi", {"instruction": "<image>\nWrite a findings report of this image:"},
        {"max_new_tokens": 512, "do_sample": False, "num_beams": 1, "no_repeat_ngram_size": 3})
    return ImportInfo(
        recipe=recipe, hub_id=HUB_ID, license="MIT (bluesky333/SLaVA-CXR)",
        sources=[src / "config.json", src / "preprocessor_config.json", *files, *tokenizer_files],
        conversions=[f"model.vision_tower.* ({len(tower)} tensors) -> encoder/ (CLIPVisionModel)",
                     f"model.mm_projector ({projector_type}) -> adapter",
                     "Phi-2 tensors (model.*, lm_head.weight/bias) -> llm/ (PhiForCausalLM); a fused "
                     "self_attn.query_key_value (transformers 4.36) split per head into q_proj/k_proj/v_proj"])
