"""Built-in encoders: tiny models of each real architecture saved in its real on-disk layout, loaded back
through the factory a recipe calls, compared with a hand computation of the selected layer."""

from __future__ import annotations

import json

import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import save_file
from timm.models import register_model

from radzoo import build_model, load_recipe
from radzoo.files import weight_files
from radzoo.files.weights import WeightsNotFoundError
from radzoo.plugins.encoders import open_clip_encoders as oce
from radzoo.plugins.encoders.base import CLIP_MEAN, CLIP_STD
from radzoo.plugins.encoders.cxr_llava import build_cxr_llava_vit
from radzoo.plugins.encoders.hf_encoders import build_rad_dino
from radzoo.plugins.encoders.timm_encoder import build_timm_encoder

B = 2


# open_clip configs name their timm trunk; these register tiny versions of the two real trunks
@register_model
def radzoo_test_dinov2_tiny(pretrained=False, **kwargs):  # LLaVA-Rad's vit_base_patch14_dinov2, shrunk
    return timm.create_model("vit_base_patch14_dinov2", img_size=42, embed_dim=32, depth=3, num_heads=2, **kwargs)


@register_model
def radzoo_test_vit16_tiny(pretrained=False, **kwargs):  # BiomedCLIP's vit_base_patch16_224, shrunk
    return timm.create_model("vit_base_patch16_224", img_size=32, patch_size=8, embed_dim=32, depth=3,
                             num_heads=2, **kwargs)


def open_clip_cfg(vision_cfg: dict) -> dict:
    """A CLIP config with a tiny built-in text tower (an HF text tower would need the hub)."""
    return {"embed_dim": 16, "vision_cfg": vision_cfg,
            "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1}}


def save_open_clip(cfg: dict, directory, preprocess: dict | None = None, safetensors: bool = False) -> dict:
    """The open_clip hub layout: open_clip_config.json + the full CLIP state dict; returns the state dict."""
    import open_clip

    torch.manual_seed(7)
    state = open_clip.CLIP(**cfg).state_dict()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": cfg, "preprocess_cfg": preprocess or {"mean": list(CLIP_MEAN), "std": list(CLIP_STD)}}))
    if safetensors:
        save_file({k: v.contiguous() for k, v in state.items()}, directory / "open_clip_model.safetensors")
    else:
        torch.save(state, directory / "open_clip_pytorch_model.bin")
    return state


def timm_block_output(trunk, pixels, block: int) -> torch.Tensor:
    """LLaVA-Rad's VisionTower: patch_embed, _pos_embed, norm_pre, blocks; hidden_states[block + 1][:, 1:]."""
    x = trunk.norm_pre(trunk._pos_embed(trunk.patch_embed(pixels)))
    states = [x]
    for blk in trunk.blocks:
        x = blk(x)
        states.append(x)
    return states[block + 1][:, 1:]


def open_clip_vit_block_output(visual, pixels, block: int, final_norm: bool = False) -> torch.Tensor:
    x = visual.conv1(pixels).flatten(2).transpose(1, 2)
    x = torch.cat([visual.class_embedding.expand(x.shape[0], 1, -1), x], dim=1) + visual.positional_embedding
    x = visual.ln_pre(x)
    for blk in visual.transformer.resblocks[:block + 1]:
        x = blk(x)
    return (visual.ln_post(x) if final_norm else x)[:, 1:]


def assert_weights_equal(module, saved: dict, prefix: str) -> None:
    own = module.state_dict()
    wanted = {k[len(prefix):]: v for k, v in saved.items() if k.startswith(prefix)}
    assert wanted and set(wanted) == set(own)
    assert all(torch.equal(own[k], wanted[k].to(own[k].dtype)) for k in wanted)


def assert_transform(encoder, channels: int, size: int, mean, std) -> None:
    pixels = encoder.image_transform(train=False)(Image.new("RGB", (size * 2, size * 3), (255, 255, 255)))
    assert pixels.shape == (channels, size, size)
    expected = torch.tensor([(1 - m) / s for m, s in zip(mean, std)])
    assert torch.allclose(pixels[:, 0, 0], expected, atol=1e-5)


@pytest.fixture
def pixels():
    torch.manual_seed(0)
    return lambda channels, size: torch.randn(B, channels, size, size)


def test_biomedclip_local_dir_second_to_last_block(tmp_path, pixels):
    cfg = open_clip_cfg({"timm_model_name": "radzoo_test_vit16_tiny", "timm_pool": "", "timm_proj": "linear",
                         "image_size": 32})
    state = save_open_clip(cfg, tmp_path / "biomedclip")
    encoder = oce.build_biomedclip(path=str(tmp_path / "biomedclip")).eval()
    assert_weights_equal(encoder.model, state, "visual.trunk.")
    x = pixels(3, 32)
    with torch.no_grad():
        out, expected = encoder(x), timm_block_output(encoder.model, x, block=1)
    assert out.shape == (B, 16, 32) and encoder.embed_dim == 32 and encoder.num_tokens == 16
    assert torch.allclose(out, expected, atol=1e-6)
    assert_transform(encoder, 3, 32, CLIP_MEAN, CLIP_STD)
    with_cls = oce.build_biomedclip(path=f"local-dir:{tmp_path / 'biomedclip'}", drop_cls=False, select_layer=-1)
    assert with_cls.eval()(x).shape == (B, 17, 32)


def test_biomedclip_cxr_518_llava_rad_layout(tmp_path, pixels):
    cfg = {"embed_dim": 16, "vision_cfg": {"timm_model_name": "radzoo_test_dinov2_tiny", "timm_pool": "",
                                           "timm_proj": "linear", "image_size": 42}}
    state = save_open_clip(open_clip_cfg(cfg["vision_cfg"]), tmp_path / "unused")
    # LLaVA-Rad's release: a bare model config + a training checkpoint (state_dict wrapper, DDP prefix,
    # a numpy scalar); it is read with weights_only=True
    (tmp_path / "llava-rad").mkdir()
    (tmp_path / "llava-rad" / oce.LLAVA_RAD_CONFIG).write_text(json.dumps(cfg))
    import numpy as np

    torch.save({"epoch": np.float64(1.0), "state_dict": {f"module.{k}": v for k, v in state.items()}},
               tmp_path / "llava-rad" / oce.LLAVA_RAD_CHECKPOINT)
    encoder = oce.build_biomedclip_cxr_518(path=str(tmp_path / "llava-rad")).eval()
    assert_weights_equal(encoder.model, state, "visual.trunk.")
    x = pixels(3, 42)
    with torch.no_grad():
        out = encoder(x)
        assert torch.allclose(out, timm_block_output(encoder.model, x, block=1), atol=1e-6)
    assert out.shape == (B, 9, 32)  # (42/14)^2 patch tokens, CLS dropped
    assert_transform(encoder, 3, 42, CLIP_MEAN, CLIP_STD)
    # the checkpoint file alone, with its config given explicitly
    single = oce.build_biomedclip_cxr_518(path=str(tmp_path / "llava-rad" / oce.LLAVA_RAD_CHECKPOINT),
                                          config=str(tmp_path / "llava-rad" / oce.LLAVA_RAD_CONFIG)).eval()
    assert torch.equal(single(x), out)


def test_biomedclip_cxr_518_builtin_config_matches_llava_rad():
    encoder = oce.build_biomedclip_cxr_518(pretrained=False, seed=0)
    assert (encoder.embed_dim, encoder.image_size, encoder.layer_index) == (768, 518, 10)
    assert encoder.model.patch_embed.num_patches == 1369 and encoder.model.num_prefix_tokens == 1


def test_weights_with_code_objects_are_refused(tmp_path):
    torch.save({"state_dict": {"visual.w": torch.zeros(1)}, "opt": Image.new("L", (1, 1))}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="never unpickles arbitrary objects"):
        weight_files.read_weights(tmp_path / "bad.pt")


def test_clip_open_clip_local_dir_and_hf_tower(tmp_path, pixels):
    import open_clip

    cfg = open_clip_cfg({"image_size": 32, "layers": 3, "width": 32, "patch_size": 8, "head_width": 16})
    state = save_open_clip(cfg, tmp_path / "oc", safetensors=True)
    encoder = oce.build_clip(path=str(tmp_path / "oc")).eval()
    assert_weights_equal(encoder.visual, state, "visual.")
    x = pixels(3, 32)
    with torch.no_grad():
        assert torch.allclose(encoder(x), open_clip_vit_block_output(encoder.visual, x, block=1), atol=1e-6)
    assert encoder(x).shape == (B, 16, 32)
    # a registered open_clip model name with a weights file as `pretrained`
    (tmp_path / "radzoo-test-ViT-tiny.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "radzoo-test-ViT-tiny.json")
    named = oce.build_clip(model_name="radzoo-test-ViT-tiny", pretrained=str(tmp_path / "oc" /
                                                                              "open_clip_model.safetensors"))
    assert_weights_equal(named.visual, state, "visual.")
    assert torch.equal(named.eval()(x), encoder(x))
    random = oce.build_clip(model_name="radzoo-test-ViT-tiny", seed=1)
    assert not torch.equal(random.visual.conv1.weight, encoder.visual.conv1.weight)


def test_clip_transformers_vision_tower(tmp_path, pixels):
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                              image_size=32, patch_size=8)
    torch.manual_seed(1)
    CLIPVisionModel(config).save_pretrained(tmp_path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    saved = CLIPVisionModel.from_pretrained(tmp_path).eval()
    encoder = oce.build_clip(hf_path=str(tmp_path)).eval()
    assert_weights_equal(encoder.model, saved.state_dict(), "")
    x = pixels(3, 32)
    with torch.no_grad():
        expected = saved(pixel_values=x, output_hidden_states=True).hidden_states[-2][:, 1:]
        assert torch.allclose(encoder(x), expected, atol=1e-6)
    assert encoder(x).shape == (B, 16, 32)
    assert_transform(encoder, 3, 32, CLIP_MEAN, CLIP_STD)


@pytest.mark.parametrize("registers", [0, 2])
def test_rad_dino_final_layer_patch_tokens(tmp_path, pixels, registers):
    from transformers import AutoModel, BitImageProcessor, Dinov2Config, Dinov2WithRegistersConfig

    kwargs = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  image_size=28, patch_size=14)
    config = Dinov2WithRegistersConfig(num_register_tokens=registers, **kwargs) if registers else \
        Dinov2Config(**kwargs)
    torch.manual_seed(2)
    AutoModel.from_config(config).save_pretrained(tmp_path)
    mean, std = [0.5307] * 3, [0.2583] * 3
    BitImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}, image_mean=mean,
                      image_std=std).save_pretrained(tmp_path)
    saved = AutoModel.from_pretrained(tmp_path).eval()
    encoder = build_rad_dino(path=str(tmp_path)).eval()
    assert_weights_equal(encoder.model, saved.state_dict(), "")
    x = pixels(3, 28)
    with torch.no_grad():
        out = encoder(x)
        assert torch.allclose(out, saved(pixel_values=x).last_hidden_state[:, 1 + registers:], atol=1e-6)
        first = build_rad_dino(path=str(tmp_path), select_layer=0).eval()(x)
        block0 = saved(pixel_values=x, output_hidden_states=True).hidden_states[1]
        assert torch.allclose(first, block0[:, 1 + registers:], atol=1e-6)
    assert out.shape == (B, 4, 32)
    assert_transform(encoder, 3, 28, mean, std)


def save_cxr_llava_checkpoint(directory, tower_state: dict) -> None:
    """CXR-LLaVA-v2's layout: config.json (clip_vision_cfg, image_preprocess_cfg) + indexed safetensors shards."""
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({
        "architectures": ["CXRLLAVAModel"], "clip_embed_dim": 8, "clip_quick_gelu": False,
        "clip_vision_cfg": {"image_size": 32, "layers": 2, "patch_size": 8, "width": 32, "head_width": 16},
        "image_preprocess_cfg": {"mean": 0.5518136078431373, "std": 0.3821719215686275}}))
    shard1 = {f"vision_tower.{k}": v.contiguous() for k, v in tower_state.items()}
    shard1["mm_projector.weight"] = torch.zeros(4, 32)
    shard2 = {"llama.embed_tokens.weight": torch.zeros(8, 4), "lm_head.weight": torch.zeros(8, 4)}
    names = {"model-00001-of-00002.safetensors": shard1, "model-00002-of-00002.safetensors": shard2}
    for name, tensors in names.items():
        save_file(tensors, directory / name)
    (directory / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {k: name for name, tensors in names.items() for k in tensors}}))


def test_cxr_llava_vit_from_checkpoint_dir(tmp_path, pixels, monkeypatch):
    tower = build_cxr_llava_vit(pretrained=False, image_size=32, patch_size=8, width=32, layers=2, heads=2,
                                embed_dim=8, seed=5).visual
    save_cxr_llava_checkpoint(tmp_path / "cxr-llava", tower.state_dict())
    read = []
    original = weight_files.read_weights
    monkeypatch.setattr(weight_files, "read_weights", lambda p: read.append(p.name) or original(p))
    encoder = build_cxr_llava_vit(path=str(tmp_path / "cxr-llava")).eval()
    assert read == ["model-00001-of-00002.safetensors"]  # the LLM's shard is never opened
    assert_weights_equal(encoder.visual, {f"v.{k}": v for k, v in tower.state_dict().items()}, "v.")
    x = pixels(1, 32)
    with torch.no_grad():
        out = encoder(x)
        assert torch.allclose(out, open_clip_vit_block_output(encoder.visual, x, block=1, final_norm=True),
                              atol=1e-6)
    assert out.shape == (B, 16, 32) and encoder.in_chans == 1
    assert_transform(encoder, 1, 32, [0.5518136078431373], [0.3821719215686275])


def test_cxr_llava_vit_default_size_is_vit_l16_512():
    encoder = build_cxr_llava_vit(pretrained=False, layers=1, seed=0)  # one block keeps the test fast
    assert (encoder.embed_dim, encoder.image_size, encoder.in_chans) == (1024, 512, 1)
    assert encoder.visual.grid_size == (32, 32)  # 1024 patch tokens


def test_timm_one_channel_with_local_weights(tmp_path, pixels):
    args = dict(model_name="vit_tiny_patch16_224", in_chans=1, image_size=32, patch_size=8, embed_dim=32,
                depth=2, num_heads=2)
    source = build_timm_encoder(seed=4, **args)
    save_file(source.model.state_dict(), tmp_path / "model.safetensors")
    encoder = build_timm_encoder(path=str(tmp_path / "model.safetensors"), **args).eval()
    assert_weights_equal(encoder.model, source.model.state_dict(), "")
    assert encoder(pixels(1, 32)).shape == (B, 16, 32)
    assert_transform(encoder, 1, 32, encoder.mean, encoder.std)


@pytest.mark.parametrize("build, hint", [
    (lambda: oce.build_biomedclip(), oce.BIOMEDCLIP_HUB),
    (lambda: oce.build_biomedclip_cxr_518(), oce.LLAVA_RAD_HUB),
    (lambda: oce.build_clip(model_name="ViT-L-14-336", pretrained="openai"), "timm/vit_large_patch14_clip_336"),
    (lambda: oce.build_clip(hf_path="openai/clip-vit-large-patch14-336"), "openai/clip-vit-large-patch14-336"),
    (lambda: build_rad_dino(), "microsoft/rad-dino"),
    (lambda: build_cxr_llava_vit(), "ECOFRI/CXR-LLAVA-v2"),
])
def test_default_hub_ids_explain_how_to_provide_weights_offline(build, hint):
    with pytest.raises(WeightsNotFoundError) as info:
        build()
    message = str(info.value)
    assert f"hf download {hint}" in message and "--local-dir DIR" in message and "encoder.args." in message


@pytest.mark.parametrize("build, message", [
    (lambda d: oce.build_biomedclip(path=f"{d}/missing"), "encoder.args.path: '.*/missing' does not exist"),
    (lambda d: oce.build_biomedclip_cxr_518(path=str(d)), "neither open_clip_config.json nor biomedclipcxr_518"),
    (lambda d: oce.build_clip(model_name="ViT-B-32", pretrained="./nope.pt"), "encoder.args.pretrained"),
    (lambda d: oce.build_clip(), "needs encoder.args.hf_path"),
    (lambda d: build_rad_dino(path=f"{d}/missing"), "encoder.args.path: '.*/missing' does not exist"),
    (lambda d: oce.build_clip(hf_path="~/no/such/clip"), "encoder.args.hf_path: '~/no/such/clip' does not exist"),
])
def test_bad_local_paths_name_the_recipe_key(tmp_path, build, message):
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        build(tmp_path)


def test_recipe_overrides_reach_the_encoder_factories(tmp_path):
    model = build_model(load_recipe("llava-rad", ["encoder.name=tiny-vit", "llm.name=tiny-llama"]))
    assert model.encoder.num_tokens == 64
    save_open_clip(open_clip_cfg({"timm_model_name": "radzoo_test_dinov2_tiny", "timm_pool": "",
                                  "timm_proj": "linear", "image_size": 42}), tmp_path / "enc")
    model = build_model(load_recipe("llava-rad", [f"encoder.args.path={tmp_path / 'enc'}", "llm.name=tiny-llama"]))
    assert (model.encoder.num_tokens, model.encoder.layer_index) == (9, 1)
