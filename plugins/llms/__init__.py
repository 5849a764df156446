"""Built-in language models: the papers' LLMs (loaded with transformers) and tiny random ones."""

from __future__ import annotations

from typing import NamedTuple

from radzoo import hookimpl
from radzoo.components.registry import lazy

_HERE = "radzoo.plugins.llms"


class ReferenceLLM(NamedTuple):
    """One of the papers' LLMs: where its weights live and how it is prompted and adapted."""

    hub_id: str
    prompt_format: str
    lora_family: str  # "llama" or "phi": which linear layers LoRA targets
    description: str
    license: str
    paper: str


REFERENCE_LLMS = {
    "vicuna-7b-v1.5": ReferenceLLM("lmsys/vicuna-7b-v1.5", "vicuna_v1", "llama",
                                   "Vicuna-7B v1.5, the LLM of LLaVA-1.5, LLaVA-Rad and MAIRA-1", "llama2",
                                   "https://lmsys.org/blog/2023-03-30-vicuna/"),
    "llama-2-7b-chat": ReferenceLLM("meta-llama/Llama-2-7b-chat-hf", "llama_2", "llama",
                                    "LLaMA-2-7B-chat, the LLM of CXR-LLaVA", "llama2", "arXiv:2307.09288"),
    "phi-2": ReferenceLLM("microsoft/phi-2", "phi", "phi", "Phi-2 (2.7B), the LLM of SLaVA-CXR", "MIT",
                          "https://www.microsoft.com/en-us/research/blog/"
                          "phi-2-the-surprising-power-of-small-language-models/"),
    "mistral-7b-instruct": ReferenceLLM("mistralai/Mistral-7B-Instruct-v0.2", "mistral_instruct", "llama",
                                        "Mistral-7B-Instruct v0.2", "Apache-2.0", "arXiv:2310.06825"),
}
# tiny random LMs of each architecture family: the paper their architecture comes from
TINY_FAMILIES = {"llama": "arXiv:2302.13971", "phi": "arXiv:2309.05463", "mistral": "arXiv:2310.06825"}


@hookimpl
def radzoo_register_llms(registry) -> None:
    for name, ref in REFERENCE_LLMS.items():
        registry.add(name, lazy(f"{_HERE}.causal_lm:load_reference_llm", name=name), description=ref.description,
                     license=ref.license, paper=ref.paper, hub_id=ref.hub_id, needs="weights",
                     weights_check=lazy(f"{_HERE}.weight_sources:check_reference_llm", hub_id=ref.hub_id))
    registry.add("hf-causal-lm", lazy(f"{_HERE}.causal_lm:load_any_causal_lm"),
                 description="any transformers causal LM (`path`: hub id or local directory)", license="varies",
                 paper="varies (the chosen model's)", needs="weights",
                 weights_check=lazy(f"{_HERE}.weight_sources:check_any_causal_lm"))
    for family, paper in TINY_FAMILIES.items():
        registry.add(f"tiny-{family}", lazy(f"{_HERE}.tiny:build_tiny_llm", family=family),
                     description=f"tiny random {family.capitalize()}-architecture LM, offline tokenizer (tests, demo)",
                     license="Apache-2.0", paper=paper)
