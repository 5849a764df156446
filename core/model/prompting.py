"""Turning a study into token ids: the prompt in the LLM's format, the image placeholder, the answer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from radzoo.data.study import Study
from radzoo.errors import InputError
from radzoo.model.chat_formats import IMAGE_PLACEHOLDER, ChatFormat, get_format
from radzoo.model.study_prompt import check_layout, fill_template, instruction_problem, maira2_user_text, study_parts

# LLaVA's convention: this id marks where the projected image tokens are spliced in
IMAGE_TOKEN_INDEX = -200
IGNORE_INDEX = -100


@dataclass(frozen=True)
class PromptBuilder:
    """The recipe's instruction(s) rendered in the LLM's conversation format.

    ``images`` are the study images the model reads (``("frontal",)``: one image, the instruction holds one
    ``<image>``); more, or the ``maira2`` layout, make the prompt a multi-image one (``radzoo.model.study_prompt``).
    """

    format: ChatFormat
    instruction: str
    instruction_with_indication: str | None = None
    system: str | None = None
    images: tuple[str, ...] = ("frontal",)
    prior_report: bool = False
    layout: str = "template"
    missing_image: str = ""
    missing_section: str = "N/A"
    grounded: bool = False  # MAIRA-2's grounded reporting prompt (generation.task: grounded_report)

    def __post_init__(self) -> None:
        check_layout(self.layout)
        for key, text in (("prompt.instruction", self.instruction),
                          ("prompt.instruction_with_indication", self.instruction_with_indication)):
            problem = instruction_problem(text, self.images, self.layout)
            if problem:
                raise InputError(f"{key} {problem}")
        if "frontal" not in self.images:
            raise InputError(f"prompt.images {list(self.images)} must include frontal (the study's own image)")

    @property
    def multi_image(self) -> bool:
        """True when a study's prompt may hold more than its frontal image (or its wording depends on them)."""
        return tuple(self.images) != ("frontal",) or self.prior_report or self.layout != "template"

    @classmethod
    def from_recipe(cls, prompt_cfg: Any, default_format: ChatFormat, grounded: bool = False) -> PromptBuilder:
        fmt = get_format(prompt_cfg.format) if prompt_cfg.format else default_format
        return cls(fmt, prompt_cfg.instruction, prompt_cfg.instruction_with_indication, prompt_cfg.system,
                   tuple(prompt_cfg.get("images") or ("frontal",)), bool(prompt_cfg.get("prior_report", False)),
                   str(prompt_cfg.get("layout") or "template"), str(prompt_cfg.get("missing_image") or ""),
                   str(prompt_cfg.get("missing_section", "N/A")), grounded)

    def render_study(self, study: Study, question: str | None = None) -> tuple[str, list[str]]:
        """The study's prompt and the image paths its ``<image>`` tokens stand for, in order.

        A one-image recipe renders exactly as ``render`` with the representative frontal image; an instruction
        question shows the frontal image only."""
        if not self.multi_image or question is not None:
            return self.render(study.indication, question), [study.image]
        parts = study_parts(study)
        if not self.prior_report:
            parts = dataclasses.replace(parts, prior_report=None)
        if self.layout == "maira2":
            user, paths = maira2_user_text(parts, self.images, self.grounded)
        else:
            template = self.instruction_with_indication if parts.indication and self.instruction_with_indication \
                else self.instruction
            user, paths = fill_template(template, parts, self.images, self.missing_image, self.missing_section)
        return self.format.render(user, self.system), paths

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
                   question: str | None = None, max_answer_tokens: int | None = None,
                   prompt: str | None = None) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` (prompt and image masked with IGNORE_INDEX; loss on the answer and EOS).

    ``prompt``: an already rendered prompt (``PromptBuilder.render_study``), else built from the indication."""
    prompt_ids = tokenize_prompt(tokenizer, prompt if prompt is not None else builder.render(indication, question))
    if answer is None:
        return {"input_ids": prompt_ids, "labels": [IGNORE_INDEX] * len(prompt_ids)}
    answer_ids = tokenizer(builder.format.answer_prefix + answer.strip(), add_special_tokens=False).input_ids
    if max_answer_tokens is not None:
        answer_ids = answer_ids[:max_answer_tokens]
    answer_ids = answer_ids + [tokenizer.eos_token_id]
    return {"input_ids": prompt_ids + answer_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids}
