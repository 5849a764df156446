"""A tiny random replica of the microsoft/llava-rad release (plus a Vicuna-shaped base), built deterministically.

Shared by the golden tool (tools/llava_rad_goldens.py, which runs LLaVA-Rad's own code on it) and the tests
(which import it with radzoo and compare with the goldens). The layout follows shared/published_checkpoints.md
§1: config.json with the mm_* fields, a PEFT LoRA (adapter_config.json + adapter_model.bin),
non_lora_trainables.bin, and an open_clip *training* checkpoint holding the visual trunk and the whole
BiomedBERT-style text tower (so open_clip's strict load, which LLaVA-Rad calls, accepts it). The timm trunk is
``vit_tiny_patch16_224`` (a name both timm 0.9.12 and radzoo's timm know) at its native 224 px: open_clip 2.23,
LLaVA-Rad's pin, does not pass ``image_size`` to timm, so the name fixes the size as 518 does for the release.
``fingerprint`` hashes the written files' tensors, so a test can tell "the replica changed" from "radzoo drifted".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from release_replicas import randomize, tiny_llama_config, write_base_llm

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TRUNK = "vit_tiny_patch16_224"
IMAGE_SIZE = 224
TRUNK_WIDTH = 192
BERT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract"
TOWER = {"embed_dim": 16, "vision_cfg": {"timm_model_name": TRUNK, "timm_model_pretrained": False,
                                         "timm_pool": "", "timm_proj": "linear", "image_size": IMAGE_SIZE},
         "text_cfg": {"hf_model_name": BERT, "hf_tokenizer_name": BERT, "hf_proj_type": "mlp",
                      "hf_pooler_type": "cls_last_hidden_state_pooler", "context_length": 256}}
# the text tower's config as the hub would serve it (the golden tool seeds an HF cache with it; radzoo never reads it)
BERT_CONFIG = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 32, "hidden_size": 16,
               "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
               "max_position_embeddings": 300, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
               "hidden_act": "gelu", "pad_token_id": 0}
BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(27)]
# (image height, width, indication): odd sizes in both orientations, with and without an indication
STUDIES = [(300, 390, None), (256, 200, "cough"), (230, 230, None), (410, 260, "fever and chest pain"),
           (240, 330, "shortness of breath"), (280, 281, None)]
MAX_NEW_TOKENS = 32


def _lm_config() -> object:
    return tiny_llama_config(vocab_size=400, hidden=64, layers=2)


def _trunk(seed: int) -> torch.nn.Module:
    """The timm ViT open_clip builds for the tower config (no classifier), every weight random."""
    import timm

    torch.manual_seed(seed)
    trunk = timm.create_model(TRUNK, pretrained=False, num_classes=0)
    return randomize(trunk)  # random norms too, so applying the final norm would show


def _text_tower(seed: int) -> dict[str, torch.Tensor]:
    """open_clip's HF text tower tensors (BertModel with its pooler, which LLaVA-Rad strips, and the mlp proj)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    bert = BertModel(BertConfig(**{k: v for k, v in BERT_CONFIG.items() if k != "architectures"}),
                     add_pooling_layer=True)
    state = {f"text.transformer.{k}": v for k, v in randomize(bert).state_dict().items()
             if not k.endswith("position_ids")}
    width, out = BERT_CONFIG["hidden_size"], TOWER["embed_dim"]
    state["text.proj.0.weight"] = torch.randn((width + out) // 2, width)
    state["text.proj.2.weight"] = torch.randn(out, (width + out) // 2)
    return state


def write_release(src: Path, r: int = 4, alpha: int = 8) -> None:
    """microsoft/llava-rad's files: config.json, the PEFT adapter, non_lora_trainables.bin, the open_clip tower."""
    config = _lm_config()
    hidden, inter = config.hidden_size, config.intermediate_size
    src.mkdir(parents=True)
    fields = {**config.to_dict(), "model_type": "llava", "architectures": ["LlavaLlamaForCausalLM"],
              "mm_vision_tower": "biomedclip_cxr_518", "mm_vision_tower_checkpoint": "biomedclipcxr_518_checkpoint.pt",
              "mm_vision_tower_config": "biomedclip_cxr_518.json", "use_mm_proj": True,
              "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": TRUNK_WIDTH, "mm_vision_select_layer": -2,
              "mm_vision_select_feature": "patch", "image_aspect_ratio": "square", "mm_use_im_start_end": False,
              "mm_use_im_patch_token": False, "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False}
    (src / "config.json").write_text(json.dumps(fields))
    (src / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "lora_dropout": 0.05, "bias": "none",
         "target_modules": TARGETS, "base_model_name_or_path": "lmsys/vicuna-7b-v1.5", "task_type": "CAUSAL_LM",
         "fan_in_fan_out": False, "inference_mode": True}))
    torch.manual_seed(2)
    shapes = {"q_proj": (hidden, hidden), "k_proj": (hidden, hidden), "v_proj": (hidden, hidden),
              "o_proj": (hidden, hidden), "gate_proj": (inter, hidden), "up_proj": (inter, hidden),
              "down_proj": (hidden, inter)}
    lora = {}
    for i in range(config.num_hidden_layers):
        for name, (out_f, in_f) in shapes.items():
            part = "self_attn" if name in TARGETS[:4] else "mlp"
            key = f"base_model.model.model.layers.{i}.{part}.{name}"
            lora[f"{key}.lora_A.weight"] = torch.randn(r, in_f) * 0.2
            lora[f"{key}.lora_B.weight"] = torch.randn(out_f, r) * 0.2
    torch.save(lora, src / "adapter_model.bin")
    prefix = "base_model.model.model.mm_projector."
    projector = {"0.weight": torch.randn(hidden, TRUNK_WIDTH) * 0.2, "0.bias": torch.randn(hidden) * 0.2,
                 "2.weight": torch.randn(hidden, hidden) * 0.3, "2.bias": torch.randn(hidden) * 0.2}
    torch.save({prefix + k: v for k, v in projector.items()}, src / "non_lora_trainables.bin")
    (src / "biomedclipcxr_518.json").write_text(json.dumps(TOWER))
    state = {f"visual.trunk.{k}": v for k, v in _trunk(3).state_dict().items()}
    state["visual.head.proj.weight"] = torch.randn(TOWER["embed_dim"], TRUNK_WIDTH)
    state.update(_text_tower(4))
    state["logit_scale"] = torch.tensor(4.6052)
    # an open_clip training checkpoint: DDP's module. prefix inside {"state_dict": ...}
    torch.save({"epoch": 1, "name": "tiny", "state_dict": {f"module.{k}": v for k, v in state.items()}},
               src / "biomedclipcxr_518_checkpoint.pt")


def write_replica(root: Path) -> tuple[Path, Path]:
    """(release dir ``root/llava-rad``, base dir ``root/vicuna-7b-v1.5``); the release dir's name is what
    LLaVA-Rad's eval requires (``get_model_name_from_path`` must give ``llavarad``)."""
    write_release(root / "llava-rad")
    write_base_llm(root / "vicuna-7b-v1.5", _lm_config(), head_spread=1.0)
    return root / "llava-rad", root / "vicuna-7b-v1.5"


def write_images(folder: Path) -> list[Path]:
    """One grey PNG per study in STUDIES (deterministic pixels)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for i, (height, width, _) in enumerate(STUDIES):
        pixels = rng.integers(0, 256, (height, width), dtype=np.uint8)
        paths.append(folder / f"study{i}.png")
        Image.fromarray(pixels, mode="L").save(paths[-1])
    return paths


def fingerprint(*dirs: Path) -> str:
    """sha256 over every written file's name and tensors (pickles hashed by content, not by zip layout)."""
    digest = hashlib.sha256()
    for directory in dirs:
        for file in sorted(p for p in directory.rglob("*") if p.is_file()):
            digest.update(file.relative_to(directory).as_posix().encode())
            if file.suffix in (".bin", ".pt"):
                state = torch.load(file, map_location="cpu", weights_only=True)
                state = state.get("state_dict", state)
                for key in sorted(state):
                    value = state[key]
                    digest.update(key.encode())
                    if isinstance(value, torch.Tensor):
                        digest.update(value.detach().contiguous().float().numpy().tobytes())
            elif file.suffix == ".json":  # the writing transformers version aside
                data = json.loads(file.read_text())
                if isinstance(data, dict):
                    data.pop("transformers_version", None)
                digest.update(json.dumps(data, sort_keys=True).encode())
            else:
                digest.update(file.read_bytes())
    return digest.hexdigest()
