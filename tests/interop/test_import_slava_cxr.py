"""`radzoo import slava-cxr`: tiny bluesky333/SLaVA-CXR replicas (both projector key forms) vs the LLaVA-Phi forward."""

from __future__ import annotations

import json

import pytest
import torch
from release_replicas import (
    CORPUS,
    hub_calls_fail,  # noqa: F401 (autouse: hub downloads raise)
    import_and_load,
    radzoo_logits_and_greedy,
    random_state,
    reference_logits_and_greedy,
    sample_image,
    write_safetensors_shards,
)

pytestmark = pytest.mark.slow  # builds and imports release replicas

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
          "detailed, and polite answers to the user's questions.")
PROMPT = f"{SYSTEM} USER: <image>\nWrite a findings report of this image: ASSISTANT:"


def _bpe():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 20 + ["Write a findings report of this image:"] * 20, trainer=trainer)
    return tok


def write_release(src, projector_type: str):
    """SLaVA-CXR's files: LlavaPhiConfig config.json, sharded safetensors, vocab.json/merges.txt, CLIP processor."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, PhiConfig, PhiForCausalLM

    src.mkdir(parents=True)
    bpe = _bpe()
    bpe.model.save(str(src))
    (src / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "CodeGenTokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
         "unk_token": "<|endoftext|>", "add_prefix_space": False, "model_max_length": 2048}))
    phi = PhiConfig(vocab_size=bpe.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=4, partial_rotary_factor=0.5, tie_word_embeddings=False, bos_token_id=0,
                    eos_token_id=0)
    clip = CLIPVisionConfig(hidden_size=24, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                            image_size=30, patch_size=6)
    state = random_state([("", PhiForCausalLM(phi)), ("model.vision_tower.vision_model.", CLIPVisionModel(clip))], 11)
    if projector_type == "linear":
        state.update({"model.mm_projector.weight": torch.randn(32, 24) * 0.2,
                      "model.mm_projector.bias": torch.randn(32)})
    else:
        state.update({"model.mm_projector.0.weight": torch.randn(32, 24) * 0.2, "model.mm_projector.0.bias":
                      torch.randn(32) * 0.2, "model.mm_projector.2.weight": torch.randn(32, 32) * 0.2,
                      "model.mm_projector.2.bias": torch.randn(32) * 0.2})
    write_safetensors_shards(src, state, 2)
    config = {**phi.to_dict(), "model_type": "llava_phi", "architectures": ["LlavaPhiForCausalLM"],
              "vision_config": {"vision_tower": {**clip.to_dict(), "mm_vision_select_layer": -2,
                                                 "mm_vision_select_feature": "patch"},
                                "mm_projector": {"mm_projector_type": projector_type, "mm_hidden_size": 24,
                                                 "hidden_size": 32}}}
    (src / "config.json").write_text(json.dumps(config))
    (src / "generation_config.json").write_text(json.dumps({"_from_model_config": True,
                                                            "transformers_version": "4.36.2"}))
    CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30}).save_pretrained(src)
    return state, phi, clip, bpe


@pytest.fixture(scope="module", params=["linear", "mlp2x_gelu"])
def imported(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("slava")
    replica = write_release(root / "SLaVA-CXR", request.param)  # no "phi" in the name: accepted all the same
    _, model, recipe = import_and_load("slava-cxr", root / "SLaVA-CXR", root / "run")
    return root, request.param, replica, model, recipe


def test_imported_slava_cxr_matches_the_llava_phi_forward(imported):
    from transformers import CLIPImageProcessor, CLIPVisionModel, PhiForCausalLM

    root, projector_type, (state, phi, clip, bpe), model, recipe = imported
    assert recipe.adapter.name == {"linear": "linear", "mlp2x_gelu": "mlp2x_gelu"}[projector_type]
    assert recipe.generation.no_repeat_ngram_size == 3
    image = sample_image(60)
    ref_pixels = CLIPImageProcessor.from_pretrained(root / "SLaVA-CXR")(image.convert("RGB"),
                                                                         return_tensors="pt").pixel_values
    pixels = model.encoder.image_transform(False)(image)[None]
    torch.testing.assert_close(pixels, ref_pixels, atol=1e-5, rtol=1e-5)
    assert model.prompt.render() == PROMPT
    ids, logits, greedy = radzoo_logits_and_greedy(model, pixels, steps=8)
    chunks = PROMPT.split("<image>")
    assert ids == bpe.encode(chunks[0]).ids + [-200] + bpe.encode(chunks[1]).ids  # no BOS for Phi
    tower = CLIPVisionModel(clip).eval()
    prefix = "model.vision_tower.vision_model."
    tower.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, strict=False)
    with torch.no_grad():
        features = tower(pixel_values=ref_pixels, output_hidden_states=True).hidden_states[-2][:, 1:]
        if projector_type == "linear":
            tokens = features @ state["model.mm_projector.weight"].T + state["model.mm_projector.bias"]
        else:
            h = torch.nn.functional.gelu(features @ state["model.mm_projector.0.weight"].T
                                         + state["model.mm_projector.0.bias"])
            tokens = h @ state["model.mm_projector.2.weight"].T + state["model.mm_projector.2.bias"]
    lm = PhiForCausalLM(phi).eval()
    lm.load_state_dict({k: v for k, v in state.items() if not k.startswith(("model.vision", "model.mm_"))})
    ref_logits, ref_greedy = reference_logits_and_greedy(lm, ids, tokens[0], 8, eos=0)
    torch.testing.assert_close(logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert greedy == ref_greedy
