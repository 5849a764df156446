"""A tiny random replica of `llava-hf/llava-1.5-7b-hf` in its release layout, for tools/llava_hf_goldens.py (which
runs transformers on it) and test_llava_hf_goldens.py (which imports it with radzoo and compares).

Layout as the release: LlavaForConditionalGeneration `config.json` (CLIP tower, vision_feature_layer -2, "default"
strategy), `model.safetensors`, `generation_config.json`, the Vicuna tokenizer with `<image>` and `<pad>` added
(as transformers' convert_llava_weights_to_hf.py adds them), `preprocessor_config.json` (CLIPImageProcessor),
`processor_config.json`, and `chat_template.json` holding llava-hf's own LLaVA-1.5 template (no system text, no
BOS; the processor adds BOS). Sizes shrink: 30-px images, 6-px patches, a 2-layer 32-wide Llama.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from llava_rad_replica import fingerprint  # noqa: F401 (the golden and the test hash the replica alike)
from release_replicas import randomize, tiny_llama_config, write_llama_tokenizer

# llava-hf/llava-1.5-7b-hf's chat_template.json, as published (the template text is a fact of the release)
LLAVA_15_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
QUESTION = "Provide a description of the findings in the radiology image."  # radzoo's llava-hf instruction
SIZES = [(30, 30), (41, 33), (33, 52), (64, 47), (37, 37), (45, 71)]  # (height, width): both orientations
HEAD_SPREAD = 4.0  # the LM head scaled so that the top-2 logit margins are wide


def write_replica(directory: Path) -> Path:
    """The release files in ``directory`` (deterministic: seeded weights, the cached sentencepiece model)."""
    from transformers import (
        AutoTokenizer,
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    write_llama_tokenizer(directory / "vicuna")
    tokenizer = AutoTokenizer.from_pretrained(directory / "vicuna")
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    tokenizer.add_special_tokens({"pad_token": "<pad>"})
    image_id, pad_id = tokenizer.convert_tokens_to_ids("<image>"), tokenizer.convert_tokens_to_ids("<pad>")
    text = tiny_llama_config(vocab_size=len(tokenizer))
    text.pad_token_id = pad_id
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                              image_size=30, patch_size=6, projection_dim=16)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_id,
                         vision_feature_layer=-2, vision_feature_select_strategy="default", image_seq_length=25,
                         pad_token_id=pad_id)
    torch.manual_seed(20)
    model = randomize(LlavaForConditionalGeneration(config))
    with torch.no_grad():
        model.lm_head.weight.mul_(HEAD_SPREAD)
    model.generation_config.pad_token_id = pad_id
    model.save_pretrained(directory)
    images = CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30})
    LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=6, vision_feature_select_strategy="default",
                   num_additional_image_tokens=1).save_pretrained(directory)
    images.save_pretrained(directory)  # the release's preprocessor_config.json
    for stale in ("chat_template.jinja", "chat_template.json"):
        (directory / stale).unlink(missing_ok=True)
    (directory / "chat_template.json").write_text(json.dumps({"chat_template": LLAVA_15_TEMPLATE}, indent=2) + "\n")
    for file in (directory / "vicuna").iterdir():
        file.unlink()
    (directory / "vicuna").rmdir()
    return directory


def write_images(folder: Path) -> list[Path]:
    """One grey PNG per study in SIZES (deterministic pixels)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(15)
    paths = []
    for i, (height, width) in enumerate(SIZES):
        paths.append(folder / f"study{i}.png")
        Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), mode="L").save(paths[-1])
    return paths
