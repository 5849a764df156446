"""MAIRA-2 (``microsoft/maira-2``): a Llava subclass with a RAD-DINO tower and a 4-linear projector, never run as
remote code.

Release files: ``config.json`` (``Maira2Config``: ``projector_n_layers`` 4, ``image_token_index`` 32204,
``vision_feature_layer`` -1, a Dinov2 backbone ``vision_config`` with ``apply_layernorm``, a Llama
``text_config`` with 32207 tokens), six float32 safetensors shards in the old Llava layout
(``language_model.model.*``, ``vision_tower.*``, ``multi_modal_projector.layers.{0,2,4,6}.*``; the >= 4.52
layout is read too), ``preprocessor_config.json`` (BitImageProcessor, mean 0.5307 / std 0.2583) and the
tokenizer files with MAIRA's 207 added tokens. The tower becomes a ``Dinov2Model`` directory for ``rad-dino``
(its ``last_hidden_state`` is the backbone's layer-normed last feature map; CLS dropped), the projector the
``mlp2x_gelu`` adapter with ``depth: 4``. The processor's per-image grey-level stretch (``_normalize_image``)
is the encoder's ``rescale_intensity``. The prompt is the frontal-only reporting prompt (no lateral, no prior
study: radzoo studies hold one image), written out with the chat template's text and the indication when
known; the template's exact spacing follows published_checkpoints.md §4.3 (double spaces after "study." and
"USER:"). A study's full reporting prompt (the release's ``format_reporting_input``: current frontal, lateral,
prior frontal, PRIOR_REPORT, INDICATION, TECHNIQUE, COMPARISON, "N/A" for what is missing) comes from
``prompt.layout: maira2`` with the ``maira2`` chat format; ``generation.task: grounded_report`` asks for the
grounded report, whose ``<obj>``/``<box>`` output is parsed into phrases with pixel boxes.
"""

from __future__ import annotations

from pathlib import Path

import torch

from radzoo.runs.importers import run_writer
from radzoo.runs.importers.llava_hf import llm_name, strip_prefix
from radzoo.runs.importers.lm_shards import copy_tokenizer, stream_lm, weight_files
from radzoo.runs.importers.run_writer import ImportInfo, ReleaseError
from radzoo.runs.importers.towers import write_dinov2_tower
from radzoo.runs.store import WEIGHTS_FILE, save_weights

HUB_ID = "microsoft/maira-2"
TASK = ("Provide a structured description of the findings in the radiology study in comparison to the prior "
        "frontal image. INDICATION: {indication} TECHNIQUE: N/A COMPARISON: N/A")


def maira_user_text(indication: str) -> str:
    """The frontal-only reporting user text (the chat format adds the system text and USER/ASSISTANT)."""
    return f"Given the current frontal image only<image> {TASK.format(indication=indication)}"


def import_into(stage: Path, src: Path, base_llm: Path | None, dtype: str | None) -> ImportInfo:
    """Write MAIRA-2 into ``stage``."""
    from transformers import AutoConfig

    run_writer.require_files(src, ["config.json", "preprocessor_config.json"], HUB_ID, "MAIRA-2 release")
    config = run_writer.read_json(src / "config.json")
    vision, text = config.get("vision_config"), config.get("text_config")
    if config.get("model_type") != "maira2" or not isinstance(vision, dict) or not isinstance(text, dict):
        raise ReleaseError(f"{src / 'config.json'} is not a MAIRA-2 config (model_type maira2 with vision_config "
                           "and text_config)")
    if vision.get("model_type") != "dinov2" or config.get("vision_feature_layer", -1) != -1 \
            or vision.get("reshape_hidden_states", False) or not vision.get("apply_layernorm", True):
        raise ReleaseError(f"{src / 'config.json'}: radzoo reads MAIRA-2's layer-normed last Dinov2 feature map "
                           "(vision_feature_layer -1, apply_layernorm, no reshape)")
    if config.get("projector_hidden_act", "gelu") != "gelu":
        raise ReleaseError(f"projector_hidden_act {config['projector_hidden_act']!r}: radzoo's projector needs gelu")
    out_dtype = run_writer.target_dtype(dtype)
    text_config = AutoConfig.for_model(text.get("model_type", "llama"),
                                       **{k: v for k, v in text.items() if k != "model_type"})
    files = weight_files(src)
    keep: dict[str, torch.Tensor] = {}
    stream_lm(files, stage / "llm", text_config, out_dtype, rename=llm_name, keep=keep)
    tokenizer_files = copy_tokenizer(src, stage / "llm", "MAIRA-2 release")
    tower = strip_prefix(keep, ("model.vision_tower.", "vision_tower."))
    if not tower:
        raise ReleaseError(f"{src}: no vision_tower.* tensors")
    write_dinov2_tower(vision, tower, src, stage / run_writer.ENCODER_DIR, out_dtype)
    layers = int(config.get("projector_n_layers", 4))
    projector = strip_prefix(keep, ("model.multi_modal_projector.layers.", "multi_modal_projector.layers."))
    expected = {f"{2 * i}.{p}" for i in range(layers) for p in ("weight", "bias")}
    if set(projector) != expected:
        raise ReleaseError(f"the projector tensors are {sorted(projector)[:4]}..., expected {layers} linears "
                           f"multi_modal_projector.layers.{{0,2,...}}.weight/bias")
    save_weights({f"adapter.mlp.{k}": run_writer.cast(v, out_dtype) for k, v in projector.items()},
                 stage / WEIGHTS_FILE)
    encoder = {"name": "rad-dino", "args": {"path": run_writer.ENCODER_DIR, "select_layer": -1, "drop_cls": True,
                                            "rescale_intensity": True, "crop_rounding": "floor"}}
    recipe = run_writer.base_recipe(
        "maira-2-published", "MAIRA-2 as released (microsoft/maira-2): frontal, lateral, prior and sections", "arXiv:2406.04449",
        encoder, {"name": "mlp2x_gelu", "args": {"depth": layers}}, "maira2",
        {"instruction": maira_user_text("N/A"), "instruction_with_indication": maira_user_text("{indication}"),
         "layout": "maira2", "images": ["frontal", "lateral", "prior_frontal"], "prior_report": True},
        {"max_new_tokens": 450, "do_sample": False, "num_beams": 1})
    extra = [src / n for n in ("processor_config.json", "chat_template.json") if (src / n).is_file()]
    return ImportInfo(
        recipe=recipe, hub_id=HUB_ID, license="MSRLA (microsoft/maira-2, research use only)",
        sources=[src / "config.json", src / "preprocessor_config.json", *files, *tokenizer_files, *extra],
        conversions=["language_model.* -> llm/ (LlamaForCausalLM)",
                     f"vision_tower.* ({len(tower)} tensors) -> encoder/ (Dinov2Model; last_hidden_state = the "
                     "backbone's layer-normed feature map)",
                     f"multi_modal_projector.layers.{{0,2,4,6}} -> adapter.mlp (depth {layers}, GELU between)",
                     "image tokens replaced by radzoo's image splice; the release's reporting prompt (prompt.layout "
                     "maira2); remote code not run"])
