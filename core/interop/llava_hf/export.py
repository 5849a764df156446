"""``radzoo export RUN --format llava-hf``: a transformers LlavaForConditionalGeneration directory.

Layout of OUT (``save_pretrained`` of the model, its processor and generation config):
    config.json, model.safetensors   vision_tower.*, multi_modal_projector.linear_{1,2}.*, language_model.*
                                     (LoRA merged; the pre-4.52 layout every transformers version and vLLM read;
                                     a CLIP/SigLIP tower under vision_tower.vision_model.* as LLaVA-1.5's)
    preprocessor_config.json, processor_config.json, tokenizer files, chat_template.jinja
    image_processing_radzoo.py       where the encoder crops as torchvision (LLaVA-Rad, radzoo's recipes): the
                                     image processor's ``auto_map``, loaded with ``trust_remote_code=True``
    generation_config.json           the recipe's decoding settings; the added <image> id is suppressed
    radzoo_export.json               source run, the recipe's instruction(s), the vLLM verdict
Before it is moved into place, the export is loaded back with transformers and checked against the run:
the same image features, and the same prompt ids for the message forms clients send (content parts in either
order, a system message, a string; through AutoProcessor and AutoTokenizer), or no export is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from radzoo.files.atomic import atomic_directory, write_text_atomic
from radzoo.interop.llava_hf.image_processing_radzoo import RadzooCLIPImageProcessor
from radzoo.interop.llava_hf.processor import check_prompt_ids, llava_processor, ship_exact_crop
from radzoo.interop.llava_hf.towers import ConvertedTower, ExportRefused, convert_tower
from radzoo.model.lora import merged_language_model
from radzoo.recipe.decode_settings import DecodeSettings
from radzoo.runs.layout import require_run_dir
from radzoo.runs.open import open_model

INFO_FILE = "radzoo_export.json"
VLLM_TOWERS = ("clip_vision_model", "siglip_vision_model")  # vLLM's LLaVA: CLIP, SigLIP (and Pixtral)


@dataclass
class LlavaExport:
    """Where the export went, how to load its processor exactly, and why vLLM cannot serve it (empty when it can)."""

    out: Path
    tower: str
    vllm_problems: list[str] = field(default_factory=list)
    load_processor_with: str = 'AutoProcessor.from_pretrained(DIR, backend="pil")'


def projector_state(adapter: Any, name: str) -> dict[str, torch.Tensor]:
    """``mlp2x_gelu`` as LlavaMultiModalProjector's linear_1 / linear_2; every other adapter is refused."""
    layers = getattr(adapter, "mlp", None)
    if type(adapter).__name__ != "MLPAdapter" or layers is None or len(layers) != 3:
        depth = (len(layers) + 1) // 2 if layers is not None else None
        raise ExportRefused(f"adapter {name!r} ({type(adapter).__name__}" + (f", depth {depth}" if depth else "")
                            + ") has no LlavaMultiModalProjector form; the LLaVA export needs mlp2x_gelu "
                            "(Linear-GELU-Linear)")
    return {f"model.multi_modal_projector.linear_{n}.{p}": getattr(layers[i], p).detach().clone()
            for n, i in ((1, 0), (2, 2)) for p in ("weight", "bias")}


def language_model_state(lm: Any, image_id: int) -> tuple[dict[str, torch.Tensor], int]:
    """The merged LM's weights under LLaVA's prefixes, its vocabulary grown to hold ``image_id``."""
    head = lm.get_output_embeddings()
    if getattr(head, "bias", None) is not None:
        raise ExportRefused(f"the LM ({lm.config.model_type}) has a biased output layer; LLaVA's lm_head has no "
                            "bias")
    prefix = lm.base_model_prefix + "."
    state: dict[str, torch.Tensor] = {}
    for key, value in lm.state_dict().items():
        if key.startswith(prefix):
            state["model.language_model." + key[len(prefix):]] = value
        elif key.startswith("lm_head."):
            state[key] = value
        else:
            raise ExportRefused(f"the LM has a weight {key!r} outside its base model and lm_head")
    embed_key = "model.language_model." + next(k for k, m in lm.base_model.named_modules()
                                               if m is lm.get_input_embeddings()) + ".weight"
    embed, head_w = state[embed_key], state["lm_head.weight"]
    vocab = max(int(embed.shape[0]), image_id + 1)
    grow = vocab - int(embed.shape[0])
    if grow:
        # the <image> row is replaced by image features before the LM sees it; its output row is 0 and the
        # generation config suppresses it
        state[embed_key] = torch.cat([embed, embed.mean(0, keepdim=True).expand(grow, -1)])
        state["lm_head.weight"] = torch.cat([head_w, head_w.new_zeros(grow, head_w.shape[1])])
    return state, vocab


def vllm_problems(config: Any) -> list[str]:
    """Why vLLM's LLaVA cannot serve this config (tower type, projector depth, channels, image token)."""
    problems = []
    vision = config.vision_config
    if vision.model_type not in VLLM_TOWERS:
        problems.append(f"its {vision.model_type} tower: vLLM's LLaVA accepts CLIP, SigLIP or Pixtral towers")
    if getattr(vision, "num_channels", 3) != 3:
        problems.append(f"{vision.num_channels}-channel pixels: vLLM feeds 3-channel images")
    if config.image_token_index >= config.text_config.vocab_size:
        problems.append("the image token lies outside the vocabulary")
    return problems


def _llava_config(tower: ConvertedTower, lm: Any, vocab: int, image_id: int, tokens: int) -> Any:
    from transformers import LlavaConfig

    text = lm.config.__class__.from_dict(lm.config.to_dict())
    text.vocab_size = vocab
    config = LlavaConfig(vision_config=tower.config, text_config=text, image_token_index=image_id,
                         image_seq_length=tokens, projector_hidden_act="gelu",
                         vision_feature_select_strategy=tower.select_strategy,
                         vision_feature_layer=tower.feature_layer, multimodal_projector_bias=True,
                         tie_word_embeddings=False)
    config.dtype = lm.dtype
    return config


def classic_tower_keys(out: Path, model_type: str) -> None:
    """Put back the ``vision_model.`` level that transformers 5 leaves out of a saved CLIP/SigLIP tower:
    transformers 4 and vLLM need it, transformers 5 reads both."""
    from safetensors.torch import load_file, save_file

    if model_type not in VLLM_TOWERS:
        return

    def classic(key: str) -> str:
        flat = key.startswith("vision_tower.") and not key.startswith("vision_tower.vision_model.")
        return key.replace("vision_tower.", "vision_tower.vision_model.", 1) if flat else key

    for file in sorted(out.glob("*.safetensors")):
        tensors = load_file(str(file))
        save_file({classic(k): v for k, v in tensors.items()}, str(file), metadata={"format": "pt"})
    index = out / "model.safetensors.index.json"
    if index.is_file():  # a sharded save
        data = json.loads(index.read_text())
        data["weight_map"] = {classic(k): v for k, v in data["weight_map"].items()}
        index.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _generation_config(recipe: Any, tokenizer: Any, image_id: int) -> Any:
    from transformers import GenerationConfig

    kwargs = DecodeSettings.from_recipe(recipe.generation).hf_kwargs()
    kwargs.pop("cache_implementation", None)
    return GenerationConfig(**kwargs, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id, suppress_tokens=[image_id])


def _verify(out: Path, model: Any, image_id: int, tokens: int) -> None:
    """Load the written directory with transformers; its pixels, image features and prompt ids must be radzoo's."""
    from PIL import Image
    from transformers import AutoProcessor, AutoTokenizer, LlavaForConditionalGeneration

    processor = AutoProcessor.from_pretrained(out, backend="pil")
    tokenizer = AutoTokenizer.from_pretrained(out)
    # square: transformers' centre crop floors the offset where torchvision rounds it (one pixel apart when
    # the resized long side exceeds the crop by 3 mod 4 pixels), so only the resize and normalisation are probed
    probe = Image.fromarray((torch.rand(45, 45, generator=torch.Generator().manual_seed(0)) * 255)
                            .to(torch.uint8).numpy())
    check_prompt_ids(model, processor, image_id, tokens, probe, tokenizer)
    pixels = processor.image_processor(images=probe, return_tensors="pt").pixel_values
    if (out / "image_processing_radzoo.py").is_file():
        _verify_exact_crop(processor.image_processor, model.encoder)
    llava = LlavaForConditionalGeneration.from_pretrained(out).eval()
    with torch.no_grad():
        theirs = llava.model.get_image_features(pixel_values=pixels.to(llava.dtype)).pooler_output
        theirs = torch.cat(list(theirs)) if isinstance(theirs, (list, tuple)) else theirs
        ours = model.encode_images(model.encoder.image_transform(False)(probe)[None])  # radzoo's own pixels
    if theirs.numel() != ours.numel() or (theirs.reshape(ours.shape).float() - ours.float()).abs().max() > 1e-3 * max(
            1.0, float(ours.abs().max())):
        raise ExportRefused("the exported processor and tower give other image features than the run (a tower "
                            "or transform this converter does not map exactly); nothing was written")
    del llava


def _verify_exact_crop(stock: Any, encoder: Any) -> None:
    """The shipped processor class gives radzoo's pixels where the stock crop is one pixel off: a probe already at
    the crop size on its short side, 3 pixels longer on the other (floor starts at 1, torchvision at 2)."""
    from PIL import Image

    size = int(encoder.image_size)
    probe = Image.fromarray((torch.rand(size, size + 3, generator=torch.Generator().manual_seed(1)) * 255)
                            .to(torch.uint8).numpy())
    exact = RadzooCLIPImageProcessor.from_dict(stock.to_dict())
    theirs = exact(images=probe, return_tensors="pt").pixel_values[0]
    ours = encoder.image_transform(False)(probe)
    if ours.shape[0] == 1:
        ours = ours.expand(3, -1, -1)
    if theirs.shape != ours.shape or (theirs - ours).abs().max() > 1e-5:
        raise ExportRefused("the shipped image_processing_radzoo.py does not reproduce the run's crop; nothing "
                            "was written")


def refuse_multi_image(prompt: Any) -> None:
    """A multi-image recipe is refused: transformers' Llava takes several ``<image>`` tokens, but a chat template
    cannot word radzoo's per-study prompt, whose text changes with the images a study has."""
    images, layout = list(prompt.get("images") or ["frontal"]), str(prompt.get("layout") or "template")
    if images != ["frontal"] or layout != "template" or prompt.get("prior_report"):
        raise ExportRefused(f"the run reads {', '.join(images)} (prompt.layout {layout}"
                            f"{', prior_report' if prompt.get('prior_report') else ''}): LlavaForConditionalGeneration "
                            "takes several images, but its chat template cannot word radzoo's multi-image prompt, "
                            "which changes with the images each study has; use `radzoo export RUN --out DIR` "
                            "(radzoo format) or serve the run with `radzoo serve`")


def export_llava_hf(run_dir: str | Path, out: str | Path) -> LlavaExport:
    """Convert a run to a LlavaForConditionalGeneration directory at ``out`` (see the module doc)."""
    from transformers import LlavaForConditionalGeneration

    run = require_run_dir(run_dir)
    run_dir, final = run.path, Path(out)
    refuse_multi_image(OmegaConf.load(run.recipe).get("prompt") or {})
    with atomic_directory(final) as partial:  # an existing non-empty --out is refused before any work
        model, recipe = open_model(run_dir)  # a run, an import or a radzoo-format export
        projector = projector_state(model.adapter, str(recipe.adapter.name))
        tower = convert_tower(model.encoder, str(recipe.encoder.name))
        lm = merged_language_model(model)
        processor, image_id = llava_processor(model, tower)
        lm_state, vocab = language_model_state(lm, image_id)
        tokens = model.image_tokens()
        config = _llava_config(tower, lm, vocab, image_id, tokens)
        with torch.device("meta"):
            llava = LlavaForConditionalGeneration(config)
        state = {**{f"model.vision_tower.{k}": v for k, v in tower.state.items()}, **projector, **lm_state}
        llava.load_state_dict(state, strict=True, assign=True)
        llava.save_pretrained(partial)
        classic_tower_keys(partial, config.vision_config.model_type)
        processor.save_pretrained(partial)
        exact_crop = model.encoder.crop_rounding == "round"
        if exact_crop:  # transformers' processors floor an odd crop margin; ship the rounding one as remote code
            ship_exact_crop(partial)
        _generation_config(recipe, processor.tokenizer, image_id).save_pretrained(partial)
        problems = vllm_problems(config)
        info = {"format": "llava-hf", "source_run": str(run_dir.resolve()), "source_llm": str(recipe.llm.name),
                "lora_merged": recipe.llm.lora is not None, "tower": tower.kind,
                "instruction": model.prompt.instruction,
                "instruction_with_indication": model.prompt.instruction_with_indication,
                "load_processor_with": ('AutoProcessor.from_pretrained(DIR, trust_remote_code=True)' if exact_crop
                                        else 'AutoProcessor.from_pretrained(DIR, backend="pil")'),
                "crop_rounding": model.encoder.crop_rounding,
                "crop_note": "transformers centre-crops at floor((long - crop) / 2), torchvision at round-half-even: "
                             "where the resized long side exceeds the crop by 3 mod 4 pixels the two are one pixel "
                             "apart" + ("; this run crops as torchvision: trust_remote_code=True loads "
                                        "image_processing_radzoo.py, which does too (without it, and with "
                                        "backend='pil', transformers' stock processor is used)" if exact_crop else
                                        "; this run crops as transformers: the stock processor is exact"),
                "vllm_servable": not problems, "vllm_problems": problems}
        write_text_atomic(partial / INFO_FILE, json.dumps(info, indent=2) + "\n")
        _verify(partial, model, image_id, tokens)
    return LlavaExport(final, tower.kind, problems, info["load_processor_with"])
