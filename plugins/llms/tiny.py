"""Tiny randomly-initialised LLMs of the real families (Llama, Phi, Mistral) for tests and the offline demo.

The tokenizer is a byte-level BPE trained at run time on a small radiology corpus shipped with
radzoo, so nothing is downloaded and any text still tokenizes.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import torch

from radzoo.errors import InputError
from radzoo.model.chat_formats import get_format
from radzoo.plugins.llms.causal_lm import LLAMA_LORA_TARGETS, PHI_LORA_TARGETS, CausalLM, load_hf_causal_lm

# family -> (transformers config class, EOS token, LoRA targets, default prompt format)
FAMILIES: dict[str, tuple[str, str, list[str], str]] = {
    "llama": ("LlamaConfig", "</s>", LLAMA_LORA_TARGETS, "vicuna_v1"),
    "phi": ("PhiConfig", "<|endoftext|>", PHI_LORA_TARGETS, "phi"),
    "mistral": ("MistralConfig", "</s>", LLAMA_LORA_TARGETS, "mistral_instruct"),
}


@functools.lru_cache(maxsize=8)
def _trained_tokenizer_json(vocab_size: int, eos: str) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    corpus = resources.files("radzoo.plugins.llms").joinpath("tiny_corpus.txt").read_text(encoding="utf-8")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", eos, "<unk>"] if eos != "<unk>" else ["<pad>", "<s>", "<unk>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus.splitlines() * 4, trainer=trainer)
    return tok.to_str()


def build_tiny_tokenizer(vocab_size: int = 1024, eos: str = "</s>", add_bos: bool = True) -> Any:
    """A fast tokenizer with BOS/EOS/PAD/UNK, built offline and deterministically."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer.from_str(_trained_tokenizer_json(vocab_size, eos))
    if add_bos:
        bos_id = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token=eos, unk_token="<unk>", pad_token="<pad>",
    )


def build_tiny_llm(
    family: str = "llama",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int = 128,
    vocab_size: int = 1024,
    max_position_embeddings: int = 2048,
    prompt_format: str | None = None,
    seed: int = 0,
    path: str | None = None,
) -> CausalLM:
    """A randomly initialised causal LM of ``family`` (same seed, same weights) or, with ``path``, a saved one."""
    if family not in FAMILIES:
        raise InputError(f"llm.args.family: {family!r} is not one of {', '.join(FAMILIES)}")
    config_name, eos, targets, default_format = FAMILIES[family]
    fmt = prompt_format or default_format
    if path is not None:
        return load_hf_causal_lm(path, prompt_format=fmt, lora_target_modules=targets, dtype="float32",
                                 name=f"tiny-{family}")
    import transformers

    tokenizer = build_tiny_tokenizer(vocab_size, eos, add_bos=family != "phi")
    config = getattr(transformers, config_name)(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return CausalLM(model=model, tokenizer=tokenizer, prompt_format=get_format(fmt),
                    lora_target_modules=list(targets), name=f"tiny-{family}")
