"""Turning a study into token ids: the prompt in the LLM's format, the image placeholder, the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radzoo.errors import InputError
from radzoo.model.chat_formats import IMAGE_PLACEHOLDER, ChatFormat, get_format, placeholder_problem

# LLaVA's convention: this id marks where the projected image tokens are spliced in
IMAGE_TOKEN_INDEX = -200
IGNORE_INDEX = -100


@dataclass(frozen=True)
class PromptBuilder:
    """The recipe's instruction(s) rendered in the LLM's conversation format."""

    format: ChatFormat
    instruction: str
    instruction_with_indication: str | None = None
    system: str | None = None

    def __post_init__(self) -> None:
        for key, text in (("prompt.instruction", self.instruction),
                          ("prompt.instruction_with_indication", self.instruction_with_indication)):
            problem = placeholder_problem(text)
            if problem:
                raise InputError(f"{key} {problem}")

    @classmethod
    def from_recipe(cls, prompt_cfg: Any, default_format: ChatFormat) -> PromptBuilder:
        fmt = get_format(prompt_cfg.format) if prompt_cfg.format else default_format
        return cls(fmt, prompt_cfg.instruction, prompt_cfg.instruction_with_indication, prompt_cfg.system)

    def user_text(self, indication: str | None = None, question: str | None = None) -> str:
        """The user turn: a question (instruction data), the indication variant, or the plain instruction."""
        if question is not None:
            return question if IMAGE_PLACEHOLDER in question else f"{IMAGE_PLACEHOLDER}\n{question}"
        if indication and self.instruction_with_indication:
            return self.instruction_with_indication.format(indication=indication.strip())
        return self.instruction

    def render(self, indication: str | None = None, question: str | None = None) -> str:
        return self.format.render(self.user_text(indication, question), self.system)


def tokenize_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of ``prompt`` with IMAGE_TOKEN_INDEX where ``<image>`` stands (BOS only at the start)."""
    chunks = prompt.split(IMAGE_PLACEHOLDER)
    ids: list[int] = []
    for i, chunk in enumerate(chunks):
        if i > 0:
            ids.append(IMAGE_TOKEN_INDEX)
        if chunk or i == 0:
            ids += tokenizer(chunk, add_special_tokens=(i == 0)).input_ids
    return ids


def encode_example(tokenizer: Any, builder: PromptBuilder, answer: str | None, *, indication: str | None = None,
                   question: str | None = None, max_answer_tokens: int | None = None) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` (prompt and image masked with IGNORE_INDEX; loss on the answer and EOS)."""
    prompt_ids = tokenize_prompt(tokenizer, builder.render(indication, question))
    if answer is None:
        return {"input_ids": prompt_ids, "labels": [IGNORE_INDEX] * len(prompt_ids)}
    answer_ids = tokenizer(builder.format.answer_prefix + answer.strip(), add_special_tokens=False).input_ids
    if max_answer_tokens is not None:
        answer_ids = answer_ids[:max_answer_tokens]
    answer_ids = answer_ids + [tokenizer.eos_token_id]
    return {"input_ids": prompt_ids + answer_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids}
