"""The LLM wrapper every LLM plugin returns, and the transformers loader behind the real models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from radzoo.errors import InputError
from radzoo.files.weights import check_local_weights, explain_missing_weights
from radzoo.model.chat_formats import ChatFormat, get_format
from radzoo.plugins.llms import REFERENCE_LLMS

LLAMA_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PHI_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"]

_DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32", "bfloat16": "bfloat16",
           "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}


@dataclass
class CausalLM:
    """A HF causal LM plus what radzoo needs: its prompt format and LoRA target modules."""

    model: Any
    tokenizer: Any
    prompt_format: ChatFormat
    lora_target_modules: list[str] = field(default_factory=lambda: list(LLAMA_LORA_TARGETS))
    name: str = ""

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def block_classes(self) -> set[type]:
        """Transformer block classes (FSDP wraps each one)."""
        return {type(m) for m in self.model.modules() if type(m).__name__.endswith("DecoderLayer")}


def prepare_tokenizer(tokenizer: Any) -> Any:
    """LLaMA-family tokenizers ship without a pad token; radzoo pads with UNK (LLaVA) or EOS."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def load_hf_causal_lm(
    path: str,
    *,
    prompt_format: str,
    lora_target_modules: list[str] | None = None,
    dtype: str = "auto",
    attn_implementation: str | None = None,
    revision: str | None = None,
    name: str = "",
    recipe_key: str = "llm.args.path",
    hub_id: str | None = None,
) -> CausalLM:
    """Load a causal LM and its tokenizer with ``from_pretrained`` from a hub id or local directory.

    ``hub_id`` (the registry entry's default) only improves the hint when a local ``path`` is missing.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in _DTYPES:
        raise InputError(f"llm.args.dtype: {dtype!r} is not one of {', '.join(_DTYPES)}")
    kwargs: dict[str, Any] = {"dtype": _DTYPES[dtype]}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if revision:
        kwargs["revision"] = revision
    # a missing directory would otherwise reach the hub client as a malformed repo id
    check_local_weights(path, recipe_key, "language model", hub_id)
    with explain_missing_weights(path, recipe_key, "language model"):
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    return CausalLM(
        model=model,
        tokenizer=prepare_tokenizer(tokenizer),
        prompt_format=get_format(prompt_format),
        lora_target_modules=list(lora_target_modules or LLAMA_LORA_TARGETS),
        name=name or str(path),
    )


def load_reference_llm(name: str, path: str | None = None, prompt_format: str | None = None, dtype: str = "auto",
                       attn_implementation: str | None = None, revision: str | None = None,
                       lora_target_modules: list[str] | None = None) -> CausalLM:
    """One of the papers' LLMs (``REFERENCE_LLMS[name]``) from ``path`` or its hub id, prompted its own way."""
    ref = REFERENCE_LLMS[name]
    targets = lora_target_modules or (PHI_LORA_TARGETS if ref.lora_family == "phi" else LLAMA_LORA_TARGETS)
    return load_hf_causal_lm(path or ref.hub_id, prompt_format=prompt_format or ref.prompt_format,
                             lora_target_modules=targets, dtype=dtype, attn_implementation=attn_implementation,
                             revision=revision, name=name, hub_id=ref.hub_id)


def load_any_causal_lm(path: str, prompt_format: str = "vicuna_v1", lora_target_modules: list[str] | None = None,
                       dtype: str = "auto", attn_implementation: str | None = None,
                       revision: str | None = None) -> CausalLM:
    """Any transformers causal LM (hub id or local directory); the recipe names its prompt format."""
    return load_hf_causal_lm(path, prompt_format=prompt_format, lora_target_modules=lora_target_modules,
                             dtype=dtype, attn_implementation=attn_implementation, revision=revision)
