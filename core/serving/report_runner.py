"""One batch of report jobs through ``ReportGenerator.generate``: per-row token budgets, cancellation, and
token streaming through its per-token hook (on either engine), all without changing a row's greedy tokens (so a
served report equals ``radzoo generate``'s)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from radzoo.generation.pipeline import ReportGenerator


@dataclass
class ReportJob:
    """One request's share of a batch; ``on_text`` (called from the model thread) receives streamed text."""

    pixels: torch.Tensor
    indication: str | None
    max_tokens: int
    on_text: Callable[[str], None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass
class Report:
    """A finished report with OpenAI's usage counts and finish reason."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of report) or "length" (the token budget ran out)


class RowHooks:
    """The batch's per-token hook: sends each streaming row's new text as it comes (held back while a character
    is partial) and ends a row when its request is cancelled or its own ``max_tokens`` is reached."""

    def __init__(self, tokenizer: Any, jobs: Sequence[ReportJob], stop_ids: set[int]) -> None:
        self.tokenizer = tokenizer
        self.jobs = jobs
        self.stop_ids = stop_ids
        self.tokens: list[list[int]] = [[] for _ in jobs]
        self.sent = [""] * len(jobs)
        self.done = [False] * len(jobs)
        self.steps = 0

    def __call__(self, chosen: torch.Tensor) -> torch.Tensor:
        self.steps += 1
        for i, token in enumerate(chosen.tolist()):
            job = self.jobs[i]
            if self.done[i] or job.cancelled.is_set():
                continue
            if token in self.stop_ids:
                self.done[i] = True
                continue
            self.tokens[i].append(token)
            self.done[i] = len(self.tokens[i]) >= job.max_tokens
            if job.on_text is None:
                continue
            text = self.tokenizer.decode(self.tokens[i], skip_special_tokens=True).strip().rstrip("\ufffd").rstrip()
            if len(text) > len(self.sent[i]) and text.startswith(self.sent[i]):
                job.on_text(text[len(self.sent[i]):])
                self.sent[i] = text
        return torch.tensor([j.cancelled.is_set() or self.steps >= j.max_tokens for j in self.jobs], dtype=torch.bool)


class ReportRunner:
    """Runs batches of jobs on one model, each batch with its own decode settings (the recipe's, with the
    batch's token budget); the generator's shared settings are never changed."""

    def __init__(self, generator: ReportGenerator) -> None:
        self.generator = generator
        self.image_tokens = int(generator.model.image_tokens())
        tok = generator.model.tokenizer
        eos = tok.eos_token_id if isinstance(tok.eos_token_id, list) else [tok.eos_token_id]
        self.stop_ids = {int(t) for t in [*eos, tok.pad_token_id] if t is not None}
        self.max_tokens = int(generator.settings.max_new_tokens)

    def pixels(self, image: Any) -> torch.Tensor:
        """The encoder's own transform of a decoded image (what ``radzoo generate`` feeds the model)."""
        return self.generator.transform(image)

    def __call__(self, jobs: Sequence[ReportJob]) -> list[Report | None]:
        """A report per job (None for one cancelled before or while it ran)."""
        live = [i for i, job in enumerate(jobs) if not job.cancelled.is_set()]
        results: list[Report | None] = [None] * len(jobs)
        if not live:
            return results
        run = [jobs[i] for i in live]
        inputs = self.generator.prompt_inputs([job.indication for job in run], torch.stack([job.pixels for job in run]))
        hooks = RowHooks(self.generator.model.tokenizer, run, self.stop_ids)
        # greedy rows do not depend on each other, so a shorter budget or an early stop only truncates a row
        settings = self.generator.settings.replace(max_new_tokens=max(job.max_tokens for job in run))
        # the hook reads every token back (a host sync per step): only for batches that stream or whose budgets
        # differ, and never with beams (transformers streams no beam search); otherwise rows are cut afterwards
        needed = any(job.on_text is not None for job in run) or len({job.max_tokens for job in run}) > 1
        new_ids = self.generator.generate(inputs, settings, on_token=hooks if needed and settings.num_beams == 1
                                          else None)
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        for row, (i, job) in enumerate(zip(live, run, strict=True)):
            if job.cancelled.is_set():
                continue
            ids = new_ids[row, :job.max_tokens].tolist()
            length = next((n for n, t in enumerate(ids) if t in self.stop_ids), len(ids))
            text = self.generator.texts(torch.tensor([ids[:length]], dtype=torch.long))[0]
            if job.on_text is not None and text.startswith(hooks.sent[row]) and text != hooks.sent[row]:
                job.on_text(text[len(hooks.sent[row]):])  # what the hook held back
            results[i] = Report(text, int(prompt_lengths[row]) - 1 + self.image_tokens, length,
                                "length" if length >= job.max_tokens else "stop")
        return results
