"""Round trip: a transformers LLaVA directory -> `radzoo import llava-hf` -> `radzoo export --format llava-hf`
-> transformers again gives the source model's logits and greedy tokens."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow  # exports, imports and generates

VICUNA_TEMPLATE = ("{% for m in messages %}{% if m.role == 'system' %}{{ m.content }} {% elif m.role == 'user' %}"
                   "USER: {% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}"
                   "{% if p.type == 'image' %}<image>\n{% else %}{{ p.text }}{% endif %}{% endfor %}{% endif %} "
                   "{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny random LlavaForConditionalGeneration (CLIP tower, Llama LM) saved with its processor."""
    from tokenizers import AddedToken
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from radzoo.plugins.llms.tiny import build_tiny_tokenizer

    out = tmp_path_factory.mktemp("llava-hf")
    tokenizer = build_tiny_tokenizer()
    tokenizer.add_tokens([AddedToken("<image>", special=True, normalized=False)], special_tokens=True)
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                       num_attention_heads=2, image_size=28, patch_size=7),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                pad_token_id=tokenizer.pad_token_id),
        image_token_index=image_id, image_seq_length=16, vision_feature_layer=-2,
        vision_feature_select_strategy="default")
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    model.save_pretrained(out)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}),
        tokenizer=tokenizer, patch_size=7, vision_feature_select_strategy="default", chat_template=VICUNA_TEMPLATE,
        num_additional_image_tokens=1)
    processor.save_pretrained(out)
    return out


def _cli(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "radzoo.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_import_then_export_reloads_to_the_same_model(source, tmp_path):
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    run, exported = tmp_path / "run", tmp_path / "export"
    _cli("import", "llava-hf", str(source), "--out", str(run))
    _cli("export", str(run), "--format", "llava-hf", "--out", str(exported))

    processor = AutoProcessor.from_pretrained(source, backend="pil")
    image = Image.effect_noise((40, 52), 60).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe the findings."}]}]
    inputs = processor(images=image, text=processor.apply_chat_template(messages, add_generation_prompt=True),
                       return_tensors="pt")
    original = LlavaForConditionalGeneration.from_pretrained(source, dtype=torch.float32).eval()
    back = LlavaForConditionalGeneration.from_pretrained(exported, dtype=torch.float32).eval()
    for key in ("vision_feature_layer", "vision_feature_select_strategy", "image_token_index"):
        assert getattr(back.config, key) == getattr(original.config, key), key
    with torch.no_grad():
        assert torch.allclose(back(**inputs).logits, original(**inputs).logits, atol=1e-4)
        # the export suppresses generating <image>; the source must do the same to be compared
        greedy = {"max_new_tokens": 10, "do_sample": False, "suppress_tokens": [original.config.image_token_index]}
        assert torch.equal(back.generate(**inputs, **greedy), original.generate(**inputs, **greedy))
    info = json.loads((exported / "radzoo_export.json").read_text())
    assert info["vllm_servable"] is True  # a CLIP tower, the 2-layer projector, 3 channels
