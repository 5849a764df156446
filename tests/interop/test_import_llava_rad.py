"""`radzoo import llava-rad`: a tiny microsoft/llava-rad replica (+ a Vicuna-shaped base) vs the official forward.

The reference below re-implements LLaVA-Rad's load and forward with plain timm/transformers/peft: PEFT
``merge_and_unload`` of the released adapter, the timm trunk's blocks run by hand with ``hidden_states[-2]``,
no final norm and CLS dropped, the open_clip validation transform with OpenAI CLIP mean/std, the Vicuna v1
prompt cut at ``<image>`` with one BOS, and the projector Linear-GELU-Linear.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from release_replicas import (
    hub_calls_fail,  # noqa: F401 (autouse: hub downloads raise)
    llava_prompt_ids,
    radzoo_logits_and_greedy,
    randomize,
    reference_logits_and_greedy,
    sample_image,
    sentencepiece,
    tiny_llama_config,
    write_base_llm,
)

pytestmark = pytest.mark.slow  # builds and imports release replicas

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
          "detailed, and polite answers to the user's questions.")
PROMPT = f"{SYSTEM} USER: <image>\nProvide a description of the findings in the radiology image. ASSISTANT:"
TOWER = {"embed_dim": 16, "vision_cfg": {"timm_model_name": "test_vit", "timm_model_pretrained": False,
                                         "timm_pool": "", "timm_proj": "linear", "image_size": 160},
         "text_cfg": {"hf_model_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                      "hf_tokenizer_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                      "hf_proj_type": "mlp", "hf_pooler_type": "cls_last_hidden_state_pooler",
                      "context_length": 256}}


def _trunk(seed: int) -> torch.nn.Module:
    """The timm ViT open_clip builds for the tower config: create_model, then reset_classifier(0)."""
    import timm

    torch.manual_seed(seed)
    trunk = timm.create_model("test_vit", pretrained=False)
    trunk.reset_classifier(0)
    return randomize(trunk)  # random norms too, so applying the final norm would show


def write_release(src: Path, r: int = 4, alpha: int = 8) -> None:
    """microsoft/llava-rad's files: config.json, the PEFT adapter, non_lora_trainables.bin, the open_clip tower."""
    config = tiny_llama_config()
    src.mkdir(parents=True)
    fields = {**config.to_dict(), "model_type": "llava", "architectures": ["LlavaLlamaForCausalLM"],
              "mm_vision_tower": "biomedclip_cxr_518", "mm_vision_tower_checkpoint": "biomedclipcxr_518_checkpoint.pt",
              "mm_vision_tower_config": "biomedclip_cxr_518.json", "use_mm_proj": True,
              "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": 64, "mm_vision_select_layer": -2,
              "mm_vision_select_feature": "patch", "image_aspect_ratio": "square", "mm_use_im_start_end": False,
              "mm_use_im_patch_token": False, "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False}
    (src / "config.json").write_text(json.dumps(fields))
    (src / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "lora_dropout": 0.05, "bias": "none",
         "target_modules": TARGETS, "base_model_name_or_path": "lmsys/vicuna-7b-v1.5", "task_type": "CAUSAL_LM",
         "fan_in_fan_out": False, "inference_mode": True}))
    torch.manual_seed(2)
    shapes = {"q_proj": (32, 32), "k_proj": (32, 32), "v_proj": (32, 32), "o_proj": (32, 32),
              "gate_proj": (64, 32), "up_proj": (64, 32), "down_proj": (32, 64)}
    lora = {}
    for i in range(config.num_hidden_layers):
        for name, (out_f, in_f) in shapes.items():
            part = "self_attn" if name in TARGETS[:4] else "mlp"
            key = f"base_model.model.model.layers.{i}.{part}.{name}"
            lora[f"{key}.lora_A.weight"] = torch.randn(r, in_f) * 0.2
            lora[f"{key}.lora_B.weight"] = torch.randn(out_f, r) * 0.2
    assert len(lora) == 14 * config.num_hidden_layers
    torch.save(lora, src / "adapter_model.bin")
    torch.save({"base_model.model.model.mm_projector.0.weight": torch.randn(32, 64) * 0.2,
                "base_model.model.model.mm_projector.0.bias": torch.randn(32) * 0.2,
                "base_model.model.model.mm_projector.2.weight": torch.randn(32, 32) * 0.2,
                "base_model.model.model.mm_projector.2.bias": torch.randn(32) * 0.2}, src / "non_lora_trainables.bin")
    (src / "biomedclipcxr_518.json").write_text(json.dumps(TOWER))
    trunk_state = {f"module.visual.trunk.{k}": v for k, v in _trunk(3).state_dict().items()}
    state = {**trunk_state, "module.visual.head.proj.weight": torch.randn(16, 64),
             "module.text.transformer.pooler.dense.weight": torch.randn(8, 8),
             "module.text.proj.0.weight": torch.randn(8, 8), "module.logit_scale": torch.tensor(4.6)}
    torch.save({"epoch": 1, "name": "tiny", "state_dict": state}, src / "biomedclipcxr_518_checkpoint.pt")


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    root = tmp_path_factory.mktemp("llava_rad")
    write_release(root / "llava-rad")
    write_base_llm(root / "vicuna-7b-v1.5")
    return root


@pytest.fixture(scope="module")
def imported(replica):
    """The replica imported, then moved: the run must not depend on where it was written.

    open_clip's text-tower builder raises meanwhile: BiomedBERT (a hub download) is never built.
    """
    import open_clip.model

    from radzoo.interop.releases import import_release
    from radzoo.runs.open import open_model

    def no_text_tower(*args, **kwargs):
        raise AssertionError("the BiomedBERT text tower was built")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(open_clip.model, "_build_text_tower", no_text_tower)
        written = import_release("llava-rad", replica / "llava-rad", replica / "written",
                                 base_llm=replica / "vicuna-7b-v1.5")
        moved = replica / "moved" / "llava-rad-published"
        moved.parent.mkdir()
        shutil.move(written, moved)
        model, recipe = open_model(moved)  # a run is loaded from where it is now, wherever it was written
    return moved, model, recipe


def reference_forward(replica: Path, image) -> tuple[list[int], torch.Tensor, torch.Tensor, torch.nn.Module]:
    """LLaVA-Rad's official path, minimal: (prompt ids, pixels, projected image tokens, merged LM)."""
    import timm
    from peft import PeftModel
    from torchvision import transforms as T
    from transformers import LlamaForCausalLM

    src = replica / "llava-rad"
    pixels = T.Compose([T.Resize(160, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(160),
                        lambda im: im.convert("RGB"), T.ToTensor(),
                        T.Normalize((0.48145466, 0.4578275, 0.40821073),
                                    (0.26862954, 0.26130258, 0.27577711))])(image)[None]
    checkpoint = torch.load(src / "biomedclipcxr_518_checkpoint.pt", weights_only=True)["state_dict"]
    trunk = timm.create_model("test_vit", pretrained=False)
    trunk.reset_classifier(0)
    prefix = "module.visual.trunk."
    trunk.load_state_dict({k[len(prefix):]: v for k, v in checkpoint.items() if k.startswith(prefix)})
    with torch.no_grad():
        x = trunk.norm_pre(trunk._pos_embed(trunk.patch_embed(pixels)))
        hidden = []
        for block in trunk.blocks:
            x = block(x)
            hidden.append(x)
        features = hidden[-2][:, 1:]
        proj = torch.load(src / "non_lora_trainables.bin", weights_only=True)
        p = {k.split("mm_projector.")[1]: v for k, v in proj.items()}
        h = torch.nn.functional.gelu(features @ p["0.weight"].T + p["0.bias"])
        image_tokens = (h @ p["2.weight"].T + p["2.bias"])[0]
    lm = LlamaForCausalLM.from_pretrained(replica / "vicuna-7b-v1.5", dtype=torch.float32)
    lm = PeftModel.from_pretrained(lm, src).merge_and_unload().eval()
    sp = sentencepiece()
    return llava_prompt_ids(PROMPT, sp.encode), pixels, image_tokens, lm


def test_imported_llava_rad_matches_the_official_forward(replica, imported):
    _, model, _ = imported
    image = sample_image()
    ref_ids, ref_pixels, image_tokens, lm = reference_forward(replica, image)
    assert model.prompt.render() == PROMPT
    pixels = model.encoder.image_transform(False)(image)[None]
    torch.testing.assert_close(pixels, ref_pixels)
    ids, logits, greedy = radzoo_logits_and_greedy(model, pixels, steps=8)
    assert ids == ref_ids
    assert image_tokens.shape[0] == (160 // 16) ** 2 == model.image_tokens()
    ref_logits, ref_greedy = reference_logits_and_greedy(lm, ref_ids, image_tokens, steps=8)
    torch.testing.assert_close(logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert greedy == ref_greedy


def test_llava_rad_run_records_provenance_and_keeps_the_released_dtype(replica, imported):
    from safetensors import safe_open

    run, _, recipe = imported
    provenance = json.loads((run / "provenance.json").read_text())
    files = {f["file"]: f["sha256"] for f in provenance["files"]}
    adapter = replica / "llava-rad" / "adapter_model.bin"
    assert files["adapter_model.bin"] == hashlib.sha256(adapter.read_bytes()).hexdigest()
    assert "pytorch_model-00002-of-00002.bin" in files and "tokenizer.model" in files
    assert any("alpha/r = 2" in c for c in provenance["conversions"]) and "MSRLA" in provenance["license"]
    assert (recipe.encoder.name, recipe.encoder.args.select_layer, recipe.adapter.name) == \
        ("biomedclip-cxr-518", -2, "mlp2x_gelu")
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(run.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's private 0700
    saved = yaml.safe_load((run / "recipe.yaml").read_text())
    assert saved["encoder"]["args"]["path"] == "encoder" and saved["llm"]["args"]["path"] == "llm"  # relocatable
    with safe_open(str(run / "llm" / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}  # noqa: SIM118
        merged = f.get_tensor("model.layers.1.mlp.down_proj.weight")
    lora = torch.load(adapter, weights_only=True)
    key = "base_model.model.model.layers.1.mlp.down_proj"
    base = torch.load(replica / "vicuna-7b-v1.5" / "pytorch_model-00002-of-00002.bin", weights_only=True)
    torch.testing.assert_close(merged, base["model.layers.1.mlp.down_proj.weight"]
                               + 2.0 * lora[f"{key}.lora_B.weight"] @ lora[f"{key}.lora_A.weight"])
    tower = json.loads((run / "encoder" / "open_clip_config.json").read_text())
    assert "text_cfg" not in tower["model_cfg"]  # BiomedBERT is never built


def test_dtype_option_converts_the_stored_weights(replica, tmp_path):
    from safetensors import safe_open

    from radzoo.interop.releases import import_release

    run = import_release("llava-rad", replica / "llava-rad", tmp_path / "bf16", base_llm=replica / "vicuna-7b-v1.5",
                         dtype="bf16")
    with safe_open(str(run / "llm" / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}  # noqa: SIM118
    assert json.loads((run / "llm" / "config.json").read_text())["dtype"] == "bfloat16"
    assert json.loads((run / "provenance.json").read_text())["dtype"] == "bf16"


def _broken_copy(replica: Path, tmp_path: Path, change) -> Path:
    src = tmp_path / "llava-rad"
    shutil.copytree(replica / "llava-rad", src)
    change(src)
    return src


def _save_namespace(src: Path) -> None:
    import argparse

    torch.save({"args": argparse.Namespace(lr=1.0)}, src / "adapter_model.bin")


def _wrong_projector(src: Path) -> None:
    state = torch.load(src / "non_lora_trainables.bin", weights_only=True)
    state["base_model.model.model.mm_projector.0.weight"] = torch.randn(32, 48)
    torch.save(state, src / "non_lora_trainables.bin")


def _not_llava(src: Path) -> None:
    (src / "config.json").write_text(json.dumps(tiny_llama_config().to_dict()))


@pytest.mark.parametrize("change, message", [
    (lambda src: (src / "adapter_model.bin").unlink(),
     "adapter_model.bin not found: the LLaVA-Rad release needs it; get it with `hf download microsoft/llava-rad"),
    (_save_namespace, "holds the Python object argparse.Namespace"),
    (_wrong_projector, "the projector does not fit a 64-wide tower"),
    (_not_llava, "is not a LLaVA config"),
])
def test_bad_llava_rad_sources_fail_in_one_line_and_leave_no_run(replica, tmp_path, capsys, change, message):
    from radzoo.cli import main

    src = _broken_copy(replica, tmp_path, change)
    out = tmp_path / "runs" / "published"
    code = main(["import", "llava-rad", str(src), "--base-llm", str(replica / "vicuna-7b-v1.5"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("error:") == 1
    assert not out.exists() and list((tmp_path / "runs").iterdir()) == []


def test_llava_rad_without_base_llm_names_the_download(replica, tmp_path, capsys):
    from radzoo.cli import main

    assert main(["import", "llava-rad", str(replica / "llava-rad"), "--out", str(tmp_path / "run")]) == 2
    assert "hf download lmsys/vicuna-7b-v1.5 --local-dir DIR" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_imported_run_generates_and_evaluates_through_the_cli(imported, tmp_path, capsys):
    from radzoo.cli import main
    from radzoo.data.synthetic import generate as make_synthetic

    run, _, _ = imported
    data = make_synthetic(tmp_path / "data", n=2, image_size=64)
    preds = tmp_path / "preds.jsonl"
    assert main(["generate", str(run), "generation.max_new_tokens=4", "--data", str(data), "--format", "synthetic",
                 "--split", "all", "--out", str(preds)]) == 0
    records = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(records) == 2 and all(r["prediction"] is not None for r in records)
    metrics = tmp_path / "metrics.json"
    assert main(["evaluate", "--predictions", str(preds), "--metrics", "chexpert", "--bootstrap", "0",
                 "--out", str(metrics)]) == 0
    result = json.loads(metrics.read_text())
    assert result["n"] == 2
    assert "chexpert" in result["evaluators"] and result["metrics"]
