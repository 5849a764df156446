"""Built-in language models: the papers' LLMs (loaded with transformers) and tiny random ones."""

from __future__ import annotations

import functools

from radzoo import hookimpl

# name -> (default hub id, prompt format, LoRA family, description, license, paper)
REFERENCE_LLMS = {
    "vicuna-7b-v1.5": ("lmsys/vicuna-7b-v1.5", "vicuna_v1", "llama",
                       "Vicuna-7B v1.5, the LLM of LLaVA-1.5, LLaVA-Rad and MAIRA-1", "llama2",
                       "https://lmsys.org/blog/2023-03-30-vicuna/"),
    "llama-2-7b-chat": ("meta-llama/Llama-2-7b-chat-hf", "llama_2", "llama",
                        "LLaMA-2-7B-chat, the LLM of CXR-LLaVA", "llama2", "arXiv:2307.09288"),
    "phi-2": ("microsoft/phi-2", "phi", "phi", "Phi-2 (2.7B), the LLM of SLaVA-CXR", "MIT",
              "https://www.microsoft.com/en-us/research/blog/phi-2-the-surprising-power-of-small-language-models/"),
    "mistral-7b-instruct": ("mistralai/Mistral-7B-Instruct-v0.2", "mistral_instruct", "llama",
                            "Mistral-7B-Instruct v0.2", "Apache-2.0", "arXiv:2310.06825"),
}


def _reference_factory(name: str, path: str | None = None, prompt_format: str | None = None,
                       dtype: str = "auto", attn_implementation: str | None = None,
                       revision: str | None = None, lora_target_modules: list[str] | None = None):
    from radzoo.plugins.llms.causal_lm import LLAMA_LORA_TARGETS, PHI_LORA_TARGETS, load_hf_causal_lm

    hub_id, fmt, family, *_ = REFERENCE_LLMS[name]
    targets = lora_target_modules or (PHI_LORA_TARGETS if family == "phi" else LLAMA_LORA_TARGETS)
    return load_hf_causal_lm(path or hub_id, prompt_format=prompt_format or fmt, lora_target_modules=targets,
                             dtype=dtype, attn_implementation=attn_implementation, revision=revision,
                             name=name, hub_id=hub_id)


def _hf_causal_lm(path: str, prompt_format: str = "vicuna_v1", lora_target_modules: list[str] | None = None,
                  dtype: str = "auto", attn_implementation: str | None = None, revision: str | None = None):
    from radzoo.plugins.llms.causal_lm import load_hf_causal_lm

    return load_hf_causal_lm(path, prompt_format=prompt_format, lora_target_modules=lora_target_modules,
                             dtype=dtype, attn_implementation=attn_implementation, revision=revision)


def _tiny(family: str, **args):
    from radzoo.plugins.llms.tiny import build_tiny_llm

    return build_tiny_llm(family=family, **args)


@hookimpl
def radzoo_register_llms(registry) -> None:
    for name, (hub_id, _fmt, _fam, description, license_, paper) in REFERENCE_LLMS.items():
        registry.add(name, functools.partial(_reference_factory, name), description=description,
                     license=license_, paper=paper, hub_id=hub_id)
    registry.add("hf-causal-lm", _hf_causal_lm,
                 description="any transformers causal LM (`path`: hub id or local directory)", license="varies")
    for family in ("llama", "phi", "mistral"):
        registry.add(f"tiny-{family}", functools.partial(_tiny, family),
                     description=f"tiny random {family.capitalize()}-architecture LM, offline tokenizer (tests, demo)",
                     license="Apache-2.0")
