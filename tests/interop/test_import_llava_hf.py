"""`radzoo import llava-hf`: a tiny LlavaForConditionalGeneration directory vs transformers' own forward."""

from __future__ import annotations

import json

import pytest
import torch
from release_replicas import (
    hub_calls_fail,  # noqa: F401 (autouse: hub downloads raise)
    import_and_load,
    radzoo_logits_and_greedy,
    randomize,
    sample_image,
    tiny_llama_config,
    write_llama_tokenizer,
)

pytestmark = pytest.mark.slow  # builds and imports release replicas

IMAGE_TOKEN = "<image>"


# transformers 5's save_pretrained writes the <= 4.51 prefixes with a bare tower; uploads made with 4.52-4.57 use
# model.* prefixes, older ones vision_tower.vision_model.*
LAYOUTS = {"v5-save": (), "4.52": (("language_model.model.", "model.language_model."),
                                   ("language_model.lm_head.", "lm_head."),
                                   ("vision_tower.", "model.vision_tower.vision_model."),
                                   ("multi_modal_projector.", "model.multi_modal_projector.")),
           "4.51": (("vision_tower.", "vision_tower.vision_model."),)}


def write_llava_hf(directory, layout: str = "v5-save", tower: str = "clip"):
    """``save_pretrained`` of a tiny random Llava (CLIP or DINOv2 tower), its tokenizer (+ <image>), its processor."""
    from transformers import (
        AutoTokenizer,
        CLIPImageProcessor,
        CLIPVisionConfig,
        Dinov2Config,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    write_llama_tokenizer(directory / "tok")
    tokenizer = AutoTokenizer.from_pretrained(directory / "tok")
    tokenizer.add_tokens([IMAGE_TOKEN], special_tokens=True)
    vision = (CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                               image_size=30, patch_size=6, projection_dim=16) if tower == "clip" else
              Dinov2Config(hidden_size=32, mlp_ratio=2, num_hidden_layers=3, num_attention_heads=4, image_size=30,
                           patch_size=6))
    config = LlavaConfig(vision_config=vision, text_config=tiny_llama_config(vocab_size=len(tokenizer)),
                         image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN), vision_feature_layer=-2,
                         vision_feature_select_strategy="default", image_seq_length=25)
    torch.manual_seed(0)
    model = randomize(LlavaForConditionalGeneration(config))
    model.save_pretrained(directory)
    if LAYOUTS[layout]:
        from safetensors.torch import load_file, save_file

        state = load_file(directory / "model.safetensors")
        state = {next((new + k[len(old):] for old, new in LAYOUTS[layout] if k.startswith(old)), k): v
                 for k, v in state.items()}
        save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    tokenizer.save_pretrained(directory)
    CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30}).save_pretrained(directory)
    return model


@pytest.fixture(scope="module", params=[("clip", "v5-save"), ("clip", "4.52"), ("clip", "4.51"), ("dinov2", "v5-save")],
                ids=["clip-v5-save", "clip-4.52-layout", "clip-4.51-layout", "dinov2"])
def imported(request, tmp_path_factory):
    tower, layout = request.param
    root = tmp_path_factory.mktemp("llava_hf")
    write_llava_hf(root / "llava", layout=layout, tower=tower)
    _, model, recipe = import_and_load("llava-hf", root / "llava", root / "run")
    assert recipe.encoder.name == {"clip": "clip", "dinov2": "rad-dino"}[tower]
    return root, model


def test_imported_llava_hf_matches_transformers(imported):
    from transformers import CLIPImageProcessor, LlavaForConditionalGeneration

    root, model = imported
    reference = LlavaForConditionalGeneration.from_pretrained(root / "llava", dtype=torch.float32).eval()
    image = sample_image(60)
    ref_pixels = CLIPImageProcessor.from_pretrained(root / "llava")(image.convert("RGB"),
                                                                      return_tensors="pt").pixel_values
    pixels = model.encoder.image_transform(False)(image)[None]
    torch.testing.assert_close(pixels, ref_pixels, atol=1e-5, rtol=1e-5)
    ids, logits, greedy = radzoo_logits_and_greedy(model, pixels, steps=8)
    image_id = reference.config.image_token_index
    expanded = []
    for i in ids:
        expanded += [image_id] * reference.config.image_seq_length if i == -200 else [i]
    input_ids = torch.tensor([expanded])
    with torch.no_grad():
        ref_logits = reference(input_ids=input_ids, pixel_values=ref_pixels).logits[0]
        ref_new = reference.generate(input_ids=input_ids, pixel_values=ref_pixels, max_new_tokens=8,
                                     do_sample=False, pad_token_id=0, eos_token_id=2)[0, input_ids.shape[1]:]
    torch.testing.assert_close(logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert greedy == ref_new.tolist()


def test_llava_hf_import_refuses_a_shape_mismatch_without_a_partial_run(tmp_path):
    from safetensors.torch import load_file, save_file

    from radzoo.interop.releases import import_release
    from radzoo.interop.releases.run_writer import ReleaseError

    write_llava_hf(tmp_path / "llava")
    state = load_file(tmp_path / "llava" / "model.safetensors")
    state["language_model.model.layers.0.mlp.up_proj.weight"] = torch.zeros(3, 3)
    save_file(state, tmp_path / "llava" / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ReleaseError, match="up_proj.weight' has shape \\(3, 3\\), the LLM config implies"):
        import_release("llava-hf", tmp_path / "llava", tmp_path / "runs" / "run")
    assert list((tmp_path / "runs").iterdir()) == []
    config = json.loads((tmp_path / "llava" / "config.json").read_text())
    config["vision_config"]["model_type"] = "siglip_vision_model"
    (tmp_path / "llava" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ReleaseError, match="reads CLIP \\(clip_vision_model\\) and DINOv2 towers"):
        import_release("llava-hf", tmp_path / "llava", tmp_path / "runs" / "run")
    assert list((tmp_path / "runs").iterdir()) == []


def test_llava_hf_import_refuses_a_tower_tensor_of_the_wrong_shape(tmp_path):
    from safetensors.torch import load_file, save_file

    from radzoo.interop.releases import import_release
    from radzoo.interop.releases.run_writer import ReleaseError

    write_llava_hf(tmp_path / "llava")
    state = load_file(tmp_path / "llava" / "model.safetensors")
    name = next(k for k in state if k.startswith("vision_tower.") and k.endswith("fc1.weight"))
    state[name] = torch.zeros(5, 5)
    save_file(state, tmp_path / "llava" / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ReleaseError, match="the vision tower does not fit its vision_config"):
        import_release("llava-hf", tmp_path / "llava", tmp_path / "runs" / "run")
