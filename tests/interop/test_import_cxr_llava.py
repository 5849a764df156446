"""`radzoo import cxr-llava`: a tiny ECOFRI/CXR-LLAVA-v2 replica against a hand-written CXR-LLaVA forward.

The reference runs the released tensors by hand: the 1-channel patch conv, CLS + positional embedding,
``ln_pre``, residual attention blocks, ``ln_post`` on every token, CLS dropped, one Linear; pixels are the
processor's grey Lanczos resize, centre crop and scalar mean/std; the prompt is LLaMA-2-chat written out.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from release_replicas import (
    hub_calls_fail,  # noqa: F401 (autouse: hub downloads raise)
    import_and_load,
    llava_prompt_ids,
    radzoo_logits_and_greedy,
    random_model,
    random_state,
    reference_logits_and_greedy,
    sample_image,
    sentencepiece,
    tiny_llama_config,
    write_llama_tokenizer,
    write_safetensors_shards,
)

pytestmark = pytest.mark.slow  # builds and imports release replicas

MEAN, STD = 0.5518136078431373, 0.3821719215686275
PROMPT = ("[INST] <<SYS>>\nYou are a helpful radiologist. Try to interpret chest x ray image and answer to the "
          "question that user provides.\n<</SYS>>\n\n<image>\nWrite a radiologic report on the given chest "
          "radiograph, including information about atelectasis, cardiomegaly, consolidation, pulmonary edema, "
          "pleural effusion, and pneumothorax. [/INST]")
VISION = {"image_size": 64, "layers": 2, "patch_size": 16, "width": 128}


def write_release(src):
    """The release: config.json, three safetensors shards + index, LLaMA-2 tokenizer files."""
    from open_clip.transformer import VisionTransformer
    from transformers import AutoTokenizer

    llama = tiny_llama_config()
    lm = random_model(llama, seed=5)
    tower = VisionTransformer(image_size=64, patch_size=16, width=128, layers=2, heads=2, mlp_ratio=4.0,
                              output_dim=16)
    tower.conv1 = torch.nn.Conv2d(1, 128, 16, 16, bias=False)
    state = {f"llama.{k[len('model.'):]}": v for k, v in lm.state_dict().items() if k.startswith("model.")}
    state["lm_head.weight"] = lm.lm_head.weight.detach()
    state.update(random_state([("vision_tower.", tower)], seed=6))
    state["mm_projector.weight"] = torch.randn(32, 128) * 0.1
    state["mm_projector.bias"] = torch.randn(32) * 0.1
    assert len(state) == (2 + 9 * 2) + 1 + 2 + 8 + 12 * 2
    src.mkdir(parents=True)
    write_safetensors_shards(src, state, 3)
    config = {"architectures": ["CXRLLAVAModel"], "model_type": "CXR-LLAVA",
              "auto_map": {"AutoConfig": "CXR_LLAVA_HF.CXRLLAVAConfig", "AutoModel": "CXR_LLAVA_HF.CXRLLAVAModel"},
              "clip_vision_cfg": VISION, "clip_embed_dim": 16, "clip_quick_gelu": False,
              "clip_vision_tower_dtype": "bf16", "clip_vision_tower_path": None, "image_aspect_ratio": "square",
              "image_grid_pinpoints": None, "image_preprocess_cfg": {"mean": MEAN, "std": STD},
              "llama": {**llama.to_dict(), "architectures": ["LlamaForCausalLM"]}, "llama_model_dtype": "bf16",
              "mm_projector_dim": 128, "mm_projector_dtype": "fp32", "mm_projector_path": None,
              "freeze_mm_mlp_adapter": False, "_name_or_path": "CXR-LLAVA-v2"}
    (src / "config.json").write_text(json.dumps(config))
    (src / "CXR_LLAVA_HF.py").write_text("raise RuntimeError('remote code must never run')\n")
    write_llama_tokenizer(src)
    AutoTokenizer.from_pretrained(src).save_pretrained(src)  # the release ships tokenizer.json too
    (src / "added_tokens.json").write_text(json.dumps({"</s>": 2, "<s>": 1, "<unk>": 0}))
    (src / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<unk>", "unk_token": "<unk>"}))
    (src / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}))
    return state


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("cxr_llava")
    state = write_release(root / "CXR-LLAVA-v2")
    _, model, _ = import_and_load("cxr-llava", root / "CXR-LLAVA-v2", root / "run")
    return state, model


def reference_image_tokens(state, pixels):
    """CXR-LLaVA's encode_images by hand: ln_post on all tokens, CLS dropped, mm_projector."""
    t = {k[len("vision_tower."):]: v for k, v in state.items() if k.startswith("vision_tower.")}
    x = F.conv2d(pixels, t["conv1.weight"], stride=16).flatten(2).transpose(1, 2)
    x = torch.cat([t["class_embedding"].expand(1, 1, -1), x], dim=1) + t["positional_embedding"]
    x = F.layer_norm(x, (128,), t["ln_pre.weight"], t["ln_pre.bias"])
    for i in range(2):
        b = f"transformer.resblocks.{i}."
        h = F.layer_norm(x, (128,), t[b + "ln_1.weight"], t[b + "ln_1.bias"])
        q, k, v = (h @ t[b + "attn.in_proj_weight"].T + t[b + "attn.in_proj_bias"]).chunk(3, dim=-1)
        q, k, v = (z.reshape(1, -1, 2, 64).transpose(1, 2) for z in (q, k, v))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(64), dim=-1) @ v
        a = a.transpose(1, 2).reshape(1, -1, 128)
        x = x + a @ t[b + "attn.out_proj.weight"].T + t[b + "attn.out_proj.bias"]
        h = F.layer_norm(x, (128,), t[b + "ln_2.weight"], t[b + "ln_2.bias"])
        h = F.gelu(h @ t[b + "mlp.c_fc.weight"].T + t[b + "mlp.c_fc.bias"])
        x = x + h @ t[b + "mlp.c_proj.weight"].T + t[b + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (128,), t["ln_post.weight"], t["ln_post.bias"])[:, 1:]
    return (x @ state["mm_projector.weight"].T + state["mm_projector.bias"])[0]


def test_imported_cxr_llava_matches_the_official_forward(imported):
    from torchvision import transforms as T
    from transformers import LlamaForCausalLM

    state, model = imported
    image = sample_image(200)
    # the processor: grey, shortest side 64 with PIL Lanczos (resample=True), centre crop, /255, scalar mean/std
    grey = image.convert("L")
    resized = grey.resize((int(64 * grey.width / grey.height), 64), resample=1)
    ref_pixels = T.Normalize((MEAN,), (STD,))(T.ToTensor()(T.CenterCrop(64)(resized)))[None]
    pixels = model.encoder.image_transform(False)(image)[None]
    torch.testing.assert_close(pixels, ref_pixels, atol=1e-5, rtol=1e-5)
    assert model.prompt.render() == PROMPT
    ids, logits, greedy = radzoo_logits_and_greedy(model, pixels, steps=8)
    assert ids == llava_prompt_ids(PROMPT, sentencepiece().encode)
    lm = LlamaForCausalLM(tiny_llama_config()).eval()
    lm.load_state_dict({**{f"model.{k[6:]}": v for k, v in state.items() if k.startswith("llama.")},
                        "lm_head.weight": state["lm_head.weight"]})
    ref_logits, ref_greedy = reference_logits_and_greedy(lm, ids, reference_image_tokens(state, ref_pixels), 8)
    torch.testing.assert_close(logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert greedy == ref_greedy


def test_cxr_llava_with_an_unknown_tensor_is_refused(tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from radzoo.interop.releases import import_release
    from radzoo.interop.releases.run_writer import ReleaseError

    root = tmp_path / "src"
    write_release(root)
    shard = root / "model-00001-of-00003.safetensors"
    state = load_file(shard)
    state["text_tower.weight"] = torch.zeros(2)
    save_file(state, shard, metadata={"format": "pt"})
    index = json.loads((root / "model.safetensors.index.json").read_text())
    index["weight_map"]["text_tower.weight"] = shard.name
    (root / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ReleaseError, match="'text_tower.weight' is not part of a CXR-LLaVA model"):
        import_release("cxr-llava", root, tmp_path / "out" / "run")
    assert list((tmp_path / "out").iterdir()) == []
    shutil.rmtree(root)
