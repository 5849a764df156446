"""One batch of report jobs through ``ReportGenerator.generate_ids``: per-row token budgets, cancellation, and
token streaming, all without changing a row's greedy tokens (so a served report equals ``radzoo generate``'s)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from radzoo.data.study import Study, StudyImage
from radzoo.generation.pipeline import ReportGenerator
from radzoo.serving.chat_request import ReportRequest
from radzoo.serving.errors import bad_request


@dataclass
class ReportJob:
    """One request's share of a batch; ``on_text`` (called from the model thread) receives streamed text."""

    pixels: torch.Tensor | dict[str, torch.Tensor]  # the frontal image, or each image by view (ReportRunner.views)
    indication: str | None
    max_tokens: int
    on_text: Callable[[str], None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    prior_report: str | None = None


@dataclass
class Report:
    """A finished report with OpenAI's usage counts and finish reason."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of report) or "length" (the token budget ran out)


class RowStop(StoppingCriteria):
    """Ends a row when its request is cancelled or its own ``max_tokens`` is reached; the others go on."""

    def __init__(self, jobs: Sequence[ReportJob]) -> None:
        self.jobs = jobs
        self.steps = 0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        self.steps += 1  # called once per generated token
        return torch.tensor([j.cancelled.is_set() or self.steps >= j.max_tokens for j in self.jobs],
                            dtype=torch.bool, device=input_ids.device)


class RowStreamer(BaseStreamer):
    """Sends each streaming row's new text as generation produces it (held back while a character is partial)."""

    def __init__(self, tokenizer: Any, jobs: Sequence[ReportJob], stop_ids: set[int]) -> None:
        self.tokenizer = tokenizer
        self.jobs = jobs
        self.stop_ids = stop_ids
        self.tokens: list[list[int]] = [[] for _ in jobs]
        self.sent = [""] * len(jobs)
        self.done = [job.on_text is None for job in jobs]
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen and value.dim() == 2:  # generate() first hands over the prompt ids
            self.prompt_seen = True
            return
        self.prompt_seen = True
        for i, token in enumerate(value.reshape(len(self.jobs), -1)[:, -1].tolist()):
            if self.done[i] or self.jobs[i].cancelled.is_set():
                continue
            if token in self.stop_ids:
                self.done[i] = True
                continue
            self.tokens[i].append(token)
            self.done[i] = len(self.tokens[i]) >= self.jobs[i].max_tokens
            text = self.tokenizer.decode(self.tokens[i], skip_special_tokens=True).strip().rstrip("\ufffd").rstrip()
            if len(text) > len(self.sent[i]) and text.startswith(self.sent[i]):
                self.jobs[i].on_text(text[len(self.sent[i]):])
                self.sent[i] = text

    def end(self) -> None:
        pass


class ReportRunner:
    """Runs batches of jobs on one model; call it from one thread only (it swaps the generation arguments)."""

    def __init__(self, generator: ReportGenerator) -> None:
        self.generator = generator
        self.image_tokens = int(generator.model.image_tokens())
        tok = generator.model.tokenizer
        eos = tok.eos_token_id if isinstance(tok.eos_token_id, list) else [tok.eos_token_id]
        self.stop_ids = {int(t) for t in [*eos, tok.pad_token_id] if t is not None}
        self.max_tokens = int(generator.gen_kwargs["max_new_tokens"])

    def pixels(self, image: Any) -> torch.Tensor:
        """The encoder's own transform of a decoded image (what ``radzoo generate`` feeds the model)."""
        return self.generator.transform(image)

    def views(self, parsed: ReportRequest) -> torch.Tensor | dict[str, torch.Tensor]:
        """The request's pixels: the frontal image's, or each image's by view when it sends more than one."""
        if not parsed.other_images:
            return self.pixels(parsed.image)
        reads = self.generator.model.prompt.images
        unread = [view for view in parsed.other_images if view not in reads]
        if unread:
            count = 1 + len(parsed.other_images)
            raise bad_request(f"the request has {count} images ({', '.join(['frontal', *parsed.other_images])}); "
                              f"this model reads {', '.join(reads)} (its recipe's prompt.images), not {unread[0]}: "
                              "send only the images it reads", "messages", "too_many_images")
        return {"frontal": self.pixels(parsed.image),
                **{view: self.pixels(image) for view, image in parsed.other_images.items()}}

    def _study(self, index: int, job: ReportJob) -> Study:
        """A study whose image "paths" are the job's view names (the pixels are already decoded)."""
        views = job.pixels if isinstance(job.pixels, dict) else {"frontal": job.pixels}
        images = [StudyImage("frontal"), StudyImage("lateral", "lateral")] if "lateral" in views else []
        prior = Study("prior", "prior_frontal" if "prior_frontal" in views else "", job.prior_report) \
            if "prior_frontal" in views or job.prior_report else None
        return Study(id=str(index), image="frontal", indication=job.indication, images=images, prior=prior)

    def __call__(self, jobs: Sequence[ReportJob]) -> list[Report | None]:
        """A report per job (None for one cancelled before or while it ran)."""
        live = [i for i, job in enumerate(jobs) if not job.cancelled.is_set()]
        results: list[Report | None] = [None] * len(jobs)
        if not live:
            return results
        run = [jobs[i] for i in live]
        studies = [self._study(i, job) for i, job in zip(live, run, strict=True)]
        prompt = self.generator.model.prompt
        images = [[(job.pixels if isinstance(job.pixels, dict) else {"frontal": job.pixels})[view]
                   for view in prompt.render_study(study)[1]] for study, job in zip(studies, run, strict=True)]
        inputs = self.generator.inputs(studies, torch.stack([t for row in images for t in row]))
        streamer = RowStreamer(self.generator.model.tokenizer, run, self.stop_ids)
        base = self.generator.gen_kwargs
        # greedy rows do not depend on each other, so a shorter budget or an early stop only truncates a row
        kwargs = {**base, "max_new_tokens": max(job.max_tokens for job in run)}
        if "engine" not in base or any(job.on_text is not None for job in run):
            # the token hooks are transformers generate()'s: a streamed batch runs there (same greedy tokens);
            # other batches keep the recipe's generation.engine, where one exists
            kwargs.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([RowStop(run)]))
            if "engine" in base:
                kwargs["engine"] = "hf"
        self.generator.gen_kwargs = kwargs
        try:
            new_ids = self.generator.generate_ids(inputs)
        finally:
            self.generator.gen_kwargs = base
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        for row, (i, job) in enumerate(zip(live, run, strict=True)):
            if job.cancelled.is_set():
                continue
            ids = new_ids[row, :job.max_tokens].tolist()
            length = next((n for n, t in enumerate(ids) if t in self.stop_ids), len(ids))
            text = self.generator.records([studies[row]], torch.tensor([ids[:length]], dtype=torch.long))[0]
            text = text["prediction"]
            if job.on_text is not None and text.startswith(streamer.sent[row]) and text != streamer.sent[row]:
                job.on_text(text[len(streamer.sent[row]):])  # what the streamer held back (or an engine without one)
            prompt_tokens = int(prompt_lengths[row]) + len(images[row]) * (self.image_tokens - 1)
            results[i] = Report(text, prompt_tokens, length,
                                "length" if length >= job.max_tokens else "stop")
        return results
