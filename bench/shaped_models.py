"""Paper-shaped RadiologyVLMs with random weights for the GPU benchmarks (throughput does not depend on values).

``llava-rad-shaped``: ViT-B/14 @518 (1369 tokens) + adapter + Llama-7B config, Vicuna v1 prompt.
``slava-shaped``: ViT-L/14 @336 (576 tokens) + adapter + Phi-2 config, Phi prompt.
``small=True`` shrinks both to a few layers so the code path can be checked on a CPU.
"""

from __future__ import annotations

import torch

# name -> (timm encoder, image size, LM config class, LM config, prompt format, instruction)
SHAPES = {
    "llava-rad-shaped": ("vit_base_patch14_dinov2", 518, "LlamaConfig",
                         {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                          "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32},
                         "vicuna_v1", "<image>\nProvide a description of the findings in the radiology image."),
    "slava-shaped": ("vit_large_patch14_clip_336", 336, "PhiConfig",
                     {"vocab_size": 51200, "hidden_size": 2560, "intermediate_size": 10240,
                      "num_hidden_layers": 32, "num_attention_heads": 32, "partial_rotary_factor": 0.4},
                     "phi", "<image>\nWrite a findings report of this image:"),
}
SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 4}


def shaped_model(shape: str, adapter: str, adapter_args: dict, device: str, dtype: torch.dtype, small: bool,
                 lora_r: int | None = None):
    """A paper-shaped RadiologyVLM with random weights, built from configs on ``device`` (no downloads).

    ``lora_r`` wraps the LM with peft LoRA on all q/k/v/o/gate/up/down (alpha 2r) as LLaVA-Rad's stage 2 does."""
    import transformers

    from radzoo.components.discovery import create_component
    from radzoo.model.chat_formats import get_format
    from radzoo.model.prompting import PromptBuilder
    from radzoo.model.vlm import RadiologyVLM
    from radzoo.plugins.encoders.timm_encoder import build_timm_encoder
    from radzoo.plugins.llms.causal_lm import CausalLM
    from radzoo.plugins.llms.tiny import build_tiny_tokenizer

    timm_name, size, config_name, lm_args, fmt, instruction = SHAPES[shape]
    enc_args = {"embed_dim": 64, "depth": 2, "num_heads": 2} if small else {}
    if small:
        lm_args = {**lm_args, **{k: v for k, v in SMALL.items() if k in lm_args or k == "num_key_value_heads"}}
    encoder = build_timm_encoder(timm_name, image_size=size, select_layer=-2, **enc_args)
    tokenizer = build_tiny_tokenizer(1024, "</s>" if config_name == "LlamaConfig" else "<|endoftext|>")
    special = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
               "bos_token_id": tokenizer.bos_token_id}
    config = getattr(transformers, config_name)(**lm_args, **special)
    if device.startswith("cuda"):
        config._attn_implementation = "sdpa"
    with torch.device(device):
        lm = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
    llm = CausalLM(model=lm, tokenizer=tokenizer, prompt_format=get_format(fmt))
    if lora_r:
        from omegaconf import OmegaConf

        from radzoo.model.lora import apply_lora

        apply_lora(llm, OmegaConf.create({"r": lora_r, "alpha": 2 * lora_r, "dropout": 0.05, "target_modules": [
            m for m in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "dense", "fc1",
                        "fc2") if any(n.endswith("." + m) for n, _ in lm.named_modules())]}))
    adapter_module = create_component("adapter", adapter, {"in_dim": encoder.embed_dim, "out_dim": config.hidden_size,
                                                           **adapter_args})
    model = RadiologyVLM(encoder, adapter_module, llm, PromptBuilder(get_format(fmt), instruction), name=shape)
    # counted before the cast: EncoderBase.num_tokens probes with a float32 image
    model.image_token_count = model.to(device).image_tokens()
    return model.to(device=device, dtype=dtype).eval()
