"""Deterministic tiny replicas of the CXR-LLaVA v2, SLaVA-CXR and MAIRA-2 releases, for golden conformance.

One builder serves both sides: ``tools/*_goldens.py`` (run once in a throwaway venv holding the upstream code and
its pinned transformers) and the tests (radzoo's import -> generate). So the tensors never come from a model
class's initialiser: every key of the release layout (published_checkpoints.md sections 2-4) is listed here by
hand with its shape, and its values come from a generator seeded by the key's name. Tokenizers are trained with
one thread and written as files; ``digests`` lets a test check it rebuilt the very files the goldens saw.
Weights are scaled so that the replicas' logits have clear top-2 margins (the goldens report the smallest).
"""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from pathlib import Path

import numpy as np
import torch

LLAMA_CORPUS = [
    "You are a helpful radiologist. Try to interpret chest x ray image and answer to the question that user provides.",
    "Write a radiologic report on the given chest radiograph, including information about atelectasis, "
    "cardiomegaly, consolidation, pulmonary edema, pleural effusion, and pneumothorax. [INST] <<SYS>> [/INST]",
    "You are an expert radiology assistant tasked with interpreting a chest X-ray study. USER: ASSISTANT:",
    "Given the current frontal image only and the current lateral image and the prior frontal image PRIOR_REPORT:",
    "Provide a structured description of the findings in the radiology study in comparison to the prior frontal "
    "image. INDICATION: TECHNIQUE: COMPARISON: N/A",
    "the heart size is normal. no pleural effusion or pneumothorax. lungs are clear. cough fever PA and lateral",
]
PHI_CORPUS = [
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions. USER: ASSISTANT:",
    "Write a findings report of this image: the heart size is normal. no pleural effusion or pneumothorax.",
]
MAIRA2_ADDED = (["<obj>", "</obj>"] + [f"<{a}{i}>" for i in range(100) for a in "xy"]
                + ["<box>", "</box>", "<image>", "<prev_im>", "<lat_image>"])
# MAIRA-2's chat_template.json was not found in public text: this template is radzoo's reading of it (the system
# sentence, double spaces after "study." and "USER:", items as text / "<image>", " ASSISTANT:"), so the MAIRA-2
# goldens verify the processor, pixels, ids given this text, the model and decoding, but not the template itself
MAIRA2_TEMPLATE = (
    "{{ 'You are an expert radiology assistant tasked with interpreting a chest X-ray study.' }}"
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ '  USER:  ' }}"
    "{% for item in message['content'] %}{% if item['type'] == 'text' %}{{ item['text'] }}"
    "{% elif item['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "{% else %}{{ ' ASSISTANT: ' }}{% for item in message['content'] %}{{ item['text'] }}{% endfor %}"
    "{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}")
CXR_LLAVA_VISION = {"image_size": 64, "layers": 2, "patch_size": 16, "width": 128}
CXR_LLAVA_MEAN, CXR_LLAVA_STD = 0.5518136078431373, 0.3821719215686275
STUDIES = 6


def _values(name: str, shape: tuple[int, ...], seed: int, scale: float, offset: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    return torch.randn(shape, generator=generator) * scale + offset


def _fill(spec: dict[str, tuple[int, ...]], seed: int, head_gain: float = 1.0) -> dict[str, torch.Tensor]:
    """Values for each ``name: shape``: norms near 1, biases small, matrices N(0, 1/fan_in), embeddings N(0, 1)."""
    state = {}
    for name, shape in spec.items():
        is_norm = any(n in name for n in ("norm", "ln_", "layernorm", "layrnorm"))
        if name.endswith("bias"):
            state[name] = _values(name, shape, seed, 0.1)
        elif is_norm or name.endswith("lambda1"):
            state[name] = _values(name, shape, seed, 0.1, 1.0)
        elif any(k in name for k in ("embed_tokens", "position", "class_embedding", "cls_token", "mask_token")):
            state[name] = _values(name, shape, seed, 1.0)
        else:  # a matrix (or conv): fan-in scaled; the LM head gets ``head_gain`` so logits spread out
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
            gain = head_gain if "lm_head" in name else 1.0
            state[name] = _values(name, shape, seed, gain / fan_in ** 0.5)
    return state


def llama_spec(prefix: str, head: str, vocab: int, hidden: int, inter: int, layers: int) -> dict:
    spec = {f"{prefix}embed_tokens.weight": (vocab, hidden), f"{prefix}norm.weight": (hidden,),
            head: (vocab, hidden)}
    for i in range(layers):
        b = f"{prefix}layers.{i}."
        spec.update({f"{b}self_attn.{p}_proj.weight": (hidden, hidden) for p in "qkvo"})
        spec.update({f"{b}mlp.gate_proj.weight": (inter, hidden), f"{b}mlp.up_proj.weight": (inter, hidden),
                     f"{b}mlp.down_proj.weight": (hidden, inter), f"{b}input_layernorm.weight": (hidden,),
                     f"{b}post_attention_layernorm.weight": (hidden,)})
    return spec


def sentencepiece_model(vocab_size: int = 400) -> bytes:
    """A LLaMA-style sentencepiece BPE model (UNK 0, BOS 1, EOS 2, byte fallback), trained on one thread."""
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(LLAMA_CORPUS * 20), model_writer=buffer, vocab_size=vocab_size, model_type="bpe",
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1, byte_fallback=True, character_coverage=1.0, add_dummy_prefix=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity", minloglevel=2, num_threads=1)
    return buffer.getvalue()


def write_llama_tokenizer(directory: Path, added: list[str] = (), chat_template: str | None = None) -> int:
    """LLaMA-2-chat's slow-tokenizer files (``legacy: false``); returns the vocabulary size (added tokens included)."""
    model = sentencepiece_model()
    (directory / "tokenizer.model").write_bytes(model)
    config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False, "legacy": False,
              "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
              "clean_up_tokenization_spaces": False, "model_max_length": 4096, "padding_side": "right"}
    first = 400
    if added:
        config["added_tokens_decoder"] = {str(first + i): {"content": t, "lstrip": False, "rstrip": False,
                                                           "normalized": False, "single_word": False,
                                                           "special": True} for i, t in enumerate(added)}
        (directory / "added_tokens.json").write_text(json.dumps({t: first + i for i, t in enumerate(added)}))
    if chat_template is not None:
        config["chat_template"] = chat_template
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=1))
    (directory / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<unk>", "unk_token": "<unk>"}))
    return first + len(added)


def _save_shards(directory: Path, state: dict[str, torch.Tensor], shards: int, dtype: torch.dtype) -> None:
    from safetensors.torch import save_file

    names = sorted(state)
    weight_map = {}
    for i in range(shards):
        shard = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: state[k].to(dtype).contiguous() for k in names[i::shards]}, str(directory / shard),
                  metadata={"format": "pt"})
        weight_map.update({k: shard for k in names[i::shards]})
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map},
                                                                       indent=1, sort_keys=True))


def llama_text_fields(vocab: int) -> dict:
    return {"vocab_size": vocab, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 2048, "hidden_act": "silu",
            "rms_norm_eps": 1e-5, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "tie_word_embeddings": False,
            "rope_theta": 10000.0, "initializer_range": 0.02}


def write_cxr_llava(src: Path) -> None:
    """ECOFRI/CXR-LLAVA-v2's layout: config.json with a nested ``llama``, 3 bf16 safetensors shards, LLaMA-2 files."""
    src.mkdir(parents=True)
    vocab = write_llama_tokenizer(src)
    (src / "added_tokens.json").write_text(json.dumps({"</s>": 2, "<s>": 1, "<unk>": 0}))
    text = llama_text_fields(vocab)
    w, n = CXR_LLAVA_VISION["width"], (CXR_LLAVA_VISION["image_size"] // CXR_LLAVA_VISION["patch_size"]) ** 2
    spec = llama_spec("llama.", "lm_head.weight", vocab, 64, 128, 2)
    spec.update({"mm_projector.weight": (64, w), "mm_projector.bias": (64,),
                 "vision_tower.conv1.weight": (w, 1, 16, 16), "vision_tower.class_embedding": (w,),
                 "vision_tower.positional_embedding": (n + 1, w), "vision_tower.ln_pre.weight": (w,),
                 "vision_tower.ln_pre.bias": (w,), "vision_tower.ln_post.weight": (w,),
                 "vision_tower.ln_post.bias": (w,), "vision_tower.proj": (w, 16)})
    for i in range(CXR_LLAVA_VISION["layers"]):
        b = f"vision_tower.transformer.resblocks.{i}."
        spec.update({b + "ln_1.weight": (w,), b + "ln_1.bias": (w,), b + "attn.in_proj_weight": (3 * w, w),
                     b + "attn.in_proj_bias": (3 * w,), b + "attn.out_proj.weight": (w, w),
                     b + "attn.out_proj.bias": (w,), b + "ln_2.weight": (w,), b + "ln_2.bias": (w,),
                     b + "mlp.c_fc.weight": (4 * w, w), b + "mlp.c_fc.bias": (4 * w,),
                     b + "mlp.c_proj.weight": (w, 4 * w), b + "mlp.c_proj.bias": (w,)})
    assert len(spec) == (2 + 9 * 2) + 1 + 2 + 8 + 12 * 2
    _save_shards(src, _fill(spec, seed=1, head_gain=6.0), 3, torch.bfloat16)
    config = {"architectures": ["CXRLLAVAModel"], "model_type": "CXR-LLAVA", "_name_or_path": "CXR-LLAVA-v2",
              "auto_map": {"AutoConfig": "CXR_LLAVA_HF.CXRLLAVAConfig", "AutoModel": "CXR_LLAVA_HF.CXRLLAVAModel"},
              "clip_vision_cfg": CXR_LLAVA_VISION, "clip_embed_dim": 16, "clip_quick_gelu": False,
              "clip_vision_tower_dtype": "bf16", "clip_vision_tower_path": None, "freeze_mm_mlp_adapter": False,
              "image_aspect_ratio": "square", "image_grid_pinpoints": None,
              "image_preprocess_cfg": {"mean": CXR_LLAVA_MEAN, "std": CXR_LLAVA_STD},
              "llama": {**text, "model_type": "llama", "architectures": ["LlamaForCausalLM"]},
              "llama_model_dtype": "bf16", "mm_projector_dim": w, "mm_projector_dtype": "fp32",
              "mm_projector_path": None, "torch_dtype": "bfloat16"}
    (src / "config.json").write_text(json.dumps(config, indent=1))
    (src / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}))


def phi_tokenizer_files(directory: Path) -> int:
    """Phi-2's byte-level BPE files (vocab.json, merges.txt, CodeGen tokenizer_config); returns the vocab size."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(PHI_CORPUS * 20, trainer=trainer)
    tok.model.save(str(directory))
    (directory / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "CodeGenTokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
         "unk_token": "<|endoftext|>", "add_prefix_space": False, "model_max_length": 2048}, indent=1))
    return tok.get_vocab_size()


def write_slava_cxr(src: Path, projector: str) -> None:
    """bluesky333/SLaVA-CXR's layout: LlavaPhiConfig config.json, 2 safetensors shards, Phi-2 BPE, CLIP processor."""
    src.mkdir(parents=True)
    vocab = phi_tokenizer_files(src)
    h, inter, d, di, image, patch = 64, 128, 48, 96, 28, 7
    spec = {"model.embed_tokens.weight": (vocab, h), "model.final_layernorm.weight": (h,),
            "model.final_layernorm.bias": (h,), "lm_head.weight": (vocab, h), "lm_head.bias": (vocab,)}
    for i in range(2):  # transformers 4.36.2's Phi (the version SLaVA-CXR pins) saves a fused query_key_value
        b = f"model.layers.{i}."
        spec.update({f"{b}self_attn.query_key_value.weight": (3 * h, h), f"{b}self_attn.query_key_value.bias": (3 * h,),
                     f"{b}self_attn.dense.weight": (h, h), f"{b}self_attn.dense.bias": (h,)})
        spec.update({f"{b}mlp.fc1.weight": (inter, h), f"{b}mlp.fc1.bias": (inter,), f"{b}mlp.fc2.weight": (h, inter),
                     f"{b}mlp.fc2.bias": (h,), f"{b}input_layernorm.weight": (h,), f"{b}input_layernorm.bias": (h,)})
    v = "model.vision_tower.vision_model."
    spec.update({v + "embeddings.class_embedding": (d,), v + "embeddings.patch_embedding.weight": (d, 3, patch, patch),
                 v + "embeddings.position_embedding.weight": ((image // patch) ** 2 + 1, d),
                 v + "pre_layrnorm.weight": (d,), v + "pre_layrnorm.bias": (d,), v + "post_layernorm.weight": (d,),
                 v + "post_layernorm.bias": (d,)})
    for i in range(3):
        b = f"{v}encoder.layers.{i}."
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            spec.update({f"{b}self_attn.{p}.weight": (d, d), f"{b}self_attn.{p}.bias": (d,)})
        spec.update({f"{b}mlp.fc1.weight": (di, d), f"{b}mlp.fc1.bias": (di,), f"{b}mlp.fc2.weight": (d, di),
                     f"{b}mlp.fc2.bias": (d,), f"{b}layer_norm1.weight": (d,), f"{b}layer_norm1.bias": (d,),
                     f"{b}layer_norm2.weight": (d,), f"{b}layer_norm2.bias": (d,)})
    if projector == "linear":
        spec.update({"model.mm_projector.weight": (h, d), "model.mm_projector.bias": (h,)})
    else:
        spec.update({"model.mm_projector.0.weight": (h, d), "model.mm_projector.0.bias": (h,),
                     "model.mm_projector.2.weight": (h, h), "model.mm_projector.2.bias": (h,)})
    _save_shards(src, _fill(spec, seed=2, head_gain=6.0), 2, torch.float32)
    clip = {"model_type": "clip_vision_model", "hidden_size": d, "intermediate_size": di, "projection_dim": 16,
            "num_hidden_layers": 3, "num_attention_heads": 4, "num_channels": 3, "image_size": image,
            "patch_size": patch, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "attention_dropout": 0.0,
            "initializer_range": 0.02, "initializer_factor": 1.0}
    config = {"architectures": ["LlavaPhiForCausalLM"], "model_type": "llava_phi", "vocab_size": vocab,
              "hidden_size": h, "intermediate_size": inter, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 4, "hidden_act": "gelu_new", "max_position_embeddings": 2048,
              "layer_norm_eps": 1e-5, "partial_rotary_factor": 0.5, "rope_theta": 10000.0, "qk_layernorm": False,
              "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float32",
              "mm_use_im_start_end": False, "mm_use_im_patch_token": False, "image_aspect_ratio": "pad",
              "transformers_version": "4.36.2",
              "vision_config": {"vision_tower": {**clip, "mm_vision_select_layer": -2,
                                                 "mm_vision_select_feature": "patch"},
                                "mm_projector": {"mm_projector_type": projector, "mm_hidden_size": d,
                                                 "hidden_size": h}}}
    (src / "config.json").write_text(json.dumps(config, indent=1))
    (src / "generation_config.json").write_text(json.dumps({"_from_model_config": True,
                                                            "transformers_version": "4.36.2"}))
    (src / "preprocessor_config.json").write_text(json.dumps(
        {"crop_size": {"height": image, "width": image}, "do_center_crop": True, "do_convert_rgb": True,
         "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
         "image_processor_type": "CLIPImageProcessor", "image_std": [0.26862954, 0.26130258, 0.27577711],
         "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": image}}, indent=1))


def write_maira2(src: Path) -> None:
    """microsoft/maira-2's layout: old Llava keys, float32, 3 shards, 207 added tokens, Dinov2 backbone, processor."""
    src.mkdir(parents=True)
    vocab = write_llama_tokenizer(src, MAIRA2_ADDED, MAIRA2_TEMPLATE)
    (src / "chat_template.json").write_text(json.dumps({"chat_template": MAIRA2_TEMPLATE}, indent=1))
    d, image, patch = 32, 28, 7
    spec = llama_spec("language_model.model.", "language_model.lm_head.weight", vocab, 64, 128, 2)
    t = "vision_tower."
    spec.update({t + "embeddings.cls_token": (1, 1, d), t + "embeddings.mask_token": (1, d),
                 t + "embeddings.position_embeddings": (1, (image // patch) ** 2 + 1, d),
                 t + "embeddings.patch_embeddings.projection.weight": (d, 3, patch, patch),
                 t + "embeddings.patch_embeddings.projection.bias": (d,), t + "layernorm.weight": (d,),
                 t + "layernorm.bias": (d,)})
    for i in range(2):
        b = f"{t}encoder.layer.{i}."
        for p in ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                  "attention.output.dense"):
            spec.update({f"{b}{p}.weight": (d, d), f"{b}{p}.bias": (d,)})
        spec.update({f"{b}norm1.weight": (d,), f"{b}norm1.bias": (d,), f"{b}norm2.weight": (d,), f"{b}norm2.bias": (d,),
                     f"{b}mlp.fc1.weight": (2 * d, d), f"{b}mlp.fc1.bias": (2 * d,), f"{b}mlp.fc2.weight": (d, 2 * d),
                     f"{b}mlp.fc2.bias": (d,), f"{b}layer_scale1.lambda1": (d,), f"{b}layer_scale2.lambda1": (d,)})
    for i, in_f in enumerate((d, 64, 64, 64)):
        spec.update({f"multi_modal_projector.layers.{2 * i}.weight": (64, in_f),
                     f"multi_modal_projector.layers.{2 * i}.bias": (64,)})
    assert len(spec) == (9 * 2 + 3) + (5 + 18 * 2 + 2) + 8
    _save_shards(src, _fill(spec, seed=3, head_gain=6.0), 3, torch.float32)
    text = {**llama_text_fields(vocab), "model_type": "llama", "rope_scaling": {"type": "linear", "factor": 1.5}}
    vision = {"model_type": "dinov2", "hidden_size": d, "num_hidden_layers": 2, "num_attention_heads": 4,
              "mlp_ratio": 2, "image_size": image, "patch_size": patch, "num_channels": 3, "hidden_act": "gelu",
              "layer_norm_eps": 1e-6, "layerscale_value": 1.0, "use_swiglu_ffn": False, "qkv_bias": True,
              "out_features": ["stage2"], "out_indices": [2], "stage_names": ["stem", "stage1", "stage2"],
              "apply_layernorm": True, "reshape_hidden_states": False}
    image_token = 400 + MAIRA2_ADDED.index("<image>")
    config = {"architectures": ["Maira2ForConditionalGeneration"], "model_type": "maira2",
              "auto_map": {"AutoConfig": "configuration_maira2.Maira2Config",
                           "AutoModelForCausalLM": "modeling_maira2.Maira2ForConditionalGeneration"},
              "image_token_index": image_token, "image_seq_length": (image // patch) ** 2,
              "projector_hidden_act": "gelu", "projector_n_layers": 4, "multimodal_projector_bias": True,
              "vision_feature_layer": -1, "vision_feature_select_strategy": "default", "pad_token_id": 0,
              "ignore_index": -100, "torch_dtype": "float32", "text_config": text, "vision_config": vision}
    (src / "config.json").write_text(json.dumps(config, indent=1))
    (src / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}))
    (src / "preprocessor_config.json").write_text(json.dumps(
        {"image_processor_type": "BitImageProcessor", "do_resize": True, "size": {"shortest_edge": image},
         "resample": 3, "do_center_crop": True, "crop_size": {"height": image, "width": image}, "do_rescale": True,
         "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5307] * 3, "image_std": [0.2583] * 3,
         "do_convert_rgb": True, "processor_class": "Maira2Processor",
         "auto_map": {"AutoProcessor": "processing_maira2.Maira2Processor"}}, indent=1))
    (src / "processor_config.json").write_text(json.dumps(
        {"image_token": "<image>", "phrase_start_token": "<obj>", "phrase_end_token": "</obj>",
         "box_start_token": "<box>", "box_end_token": "</box>", "num_box_coord_bins": 100, "patch_size": patch,
         "num_additional_image_tokens": 1,  # the CLS token: LlavaProcessor >= 4.47 counts it only when told
         "vision_feature_select_strategy": "default", "processor_class": "Maira2Processor",
         "auto_map": {"AutoProcessor": "processing_maira2.Maira2Processor"}}, indent=1))


def study_image(index: int) -> object:
    """Study ``index``'s grey image: a coarse random pattern blown up (so it survives the resize), non-square,
    with a narrow grey range for odd studies (MAIRA-2 stretches it)."""
    from PIL import Image

    rng = np.random.default_rng(100 + index)
    coarse = rng.integers(0, 256, (6, 8)).astype(np.uint8)
    if index % 2:
        coarse = (40 + coarse // 3).astype(np.uint8)
    big = Image.fromarray(coarse, mode="L").resize((80 + 10 * index, 60 + 5 * index), resample=Image.NEAREST)
    return big


def digests(directory: Path) -> dict[str, str]:
    """sha256 of each file of a replica (the upstream code files a tool adds are not part of it)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())
            if p.is_file() and p.suffix != ".py"}


def pixel_summary(pixels: torch.Tensor) -> dict:
    """A pixel tensor in a few figures: shape, sum, sum of squares and its first 16 values."""
    flat = pixels.detach().double().flatten()
    return {"shape": list(pixels.shape), "sum": float(flat.sum()), "sum_sq": float((flat ** 2).sum()),
            "first": [float(x) for x in flat[:16]]}
