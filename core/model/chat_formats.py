"""Conversation formats of the supported LLM families, as the papers' training code renders them.

Each format renders the text before the assistant's answer; the answer follows after
``answer_prefix`` and ends with the tokenizer's EOS token.
"""

from __future__ import annotations

from dataclasses import dataclass

from radzoo.errors import InputError

IMAGE_PLACEHOLDER = "<image>"

MAIRA2_SYSTEM = "You are an expert radiology assistant tasked with interpreting a chest X-ray study."
_CHAT_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)


@dataclass(frozen=True)
class ChatFormat:
    """A prompt template with ``{system}`` and ``{user}`` slots."""

    name: str
    template: str
    default_system: str = ""
    answer_prefix: str = " "
    # wraps a non-empty system text; an empty one leaves no trace (LLaMA-2 drops the <<SYS>> block,
    # Mistral folds the system text into the user turn)
    system_block: str = "{system}"

    def render(self, user: str, system: str | None = None) -> str:
        """The prompt up to where the assistant's answer starts."""
        sys_text = self.default_system if system is None else system
        sys_text = self.system_block.format(system=sys_text) if sys_text else ""
        return self.template.format(system=sys_text, user=user)


FORMATS: dict[str, ChatFormat] = {
    # LLaVA conv_vicuna_v1 (LLaVA-1.5, LLaVA-Rad, MAIRA-1)
    "vicuna_v1": ChatFormat("vicuna_v1", "{system} USER: {user} ASSISTANT:", _CHAT_SYSTEM),
    # LLaVA conv_llava_llama_2 / LLaMA-2-chat (CXR-LLaVA); BOS comes from the tokenizer
    "llama_2": ChatFormat("llama_2", "[INST] {system}{user} [/INST]", "",
                          system_block="<<SYS>>\n{system}\n<</SYS>>\n\n"),
    # LLaVA-Phi conv_phi_v0 (SLaVA-CXR): USER/ASSISTANT turns, EOS <|endoftext|>
    "phi": ChatFormat("phi", "{system} USER: {user} ASSISTANT:", _CHAT_SYSTEM),
    # Mistral-Instruct has no system role: the system text leads the first user turn
    "mistral_instruct": ChatFormat("mistral_instruct", "[INST] {system}{user} [/INST]", "",
                                   system_block="{system}\n\n"),
    # MAIRA-2's chat_template.json (published_checkpoints.md §4.3): two spaces after "study." and after "USER:"
    "maira2": ChatFormat("maira2", "{system}  USER:  {user} ASSISTANT:", MAIRA2_SYSTEM),
    # LLaVA "plain" (caption pre-training): the image and the answer, nothing else
    "plain": ChatFormat("plain", "{user}", "", answer_prefix=""),
    # LLaMA-2-chat as transformers' Llama chat template writes it (CXR-LLaVA's official path): the text starts with
    # a literal <s>, which the tokenizer parses as a second BOS after its own, so the ids begin [1, 1, ...]
    "llama_2_chat_template": ChatFormat("llama_2_chat_template", "<s>[INST] {system}{user} [/INST]", "",
                                        system_block="<<SYS>>\n{system}\n<</SYS>>\n\n"),
}


def placeholder_problem(instruction: str | None) -> str | None:
    """Why ``instruction`` cannot be used (it needs exactly one ``<image>``), or None when it can (or is unset)."""
    count = instruction.count(IMAGE_PLACEHOLDER) if instruction is not None else 1
    if count == 1:
        return None
    return f"must contain the image placeholder {IMAGE_PLACEHOLDER!r} exactly once, got {count}: {instruction!r}"


def get_format(name: str) -> ChatFormat:
    """The format called ``name`` (an error lists the known ones)."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(f"unknown prompt format {name!r}; known formats: {', '.join(FORMATS)}") from None

