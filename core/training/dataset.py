"""Training examples from studies: prompt + answer token ids with the image (pixels or cached features).

Tasks: ``report`` (the findings report, with the indication when the study has one), ``instruction``
(RADEX-like question/answer pairs built from the study's labels), ``labels`` (CheXpert targets for
encoder pre-training), and ``findings`` / ``impression`` / ``vqa`` or a weighted mapping of them
(radzoo.data.tasks). Examples are grouped by data source (a ``mixture``) and task; more than one group is
sampled by weight (radzoo.training.mixture_sampler). Images go through the encoder's own transform.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

from radzoo.data.images import load_image
from radzoo.data.instructions import build_instructions
from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.readers.mixture import SOURCE_KEY
from radzoo.data.study import Study
from radzoo.data.tasks import task_examples, task_weights
from radzoo.errors import InputError
from radzoo.model.prompting import encode_example
from radzoo.model.smoke import collate_examples
from radzoo.model.vlm import RadiologyVLM
from radzoo.training.feature_cache import FeatureCache
from radzoo.training.mixture_sampler import MixtureBatchSampler


def label_targets(study: Study, names: Sequence[str], uncertain: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(target, mask) over ``names``: positive is 1; uncertain (-1) is 1 under "positive", masked under "mask"."""
    target, mask = torch.zeros(len(names)), torch.zeros(len(names))
    for i, name in enumerate(names):
        value = study.labels.get(name)
        if value is None or (value == -1 and uncertain == "mask"):
            continue
        target[i] = 1.0 if value == 1 or value == -1 else 0.0
        mask[i] = 1.0
    return target, mask


class StageDataset(Dataset):
    """One item per training example of ``task`` (an instruction study yields one item per question)."""

    def __init__(self, studies: Sequence[Study], model: RadiologyVLM, task: Any, *,
                 features: FeatureCache | None = None, seed: int = 0, uncertain: str = "mask",
                 max_answer_tokens: int | None = None, source_weights: dict[str, float] | None = None) -> None:
        self.model, self.task, self.features = model, task, features
        self.uncertain, self.max_answer_tokens = uncertain, max_answer_tokens
        self.transform = model.encoder.image_transform(True)
        self.items: list[tuple[Study, str | None, str | None]] = []
        item_tasks: list[str] = []
        if task == "instruction":
            rng = random.Random(seed)
            for study in studies:
                self.items += [(study, q, a) for q, a in build_instructions(study, rng)]
        elif task not in ("report", "labels"):  # findings / impression / vqa, or a weighted mapping of them
            tasks = task_weights(task, "stage task")
            for name in tasks:
                for study in studies:
                    examples = task_examples(study, name)
                    self.items += [(study, e.question, e.answer) for e in examples]
                    item_tasks += [name] * len(examples)
        else:
            for study in studies:
                if task == "report" and not (study.report or "").strip():
                    raise InputError(f"study {study.id} ({study.image}): no report text to train on; "
                                     "fix the data or let the reader skip studies without reports")
                self.items.append((study, None, study.report))
        if not self.items:
            raise InputError(f"no training examples for task {task!r}: the data has no usable studies"
                             + (" with an impression section" if "impression" in str(task) else ""))
        self._group_items(item_tasks or [str(task)] * len(self.items),
                          task_weights(task, "stage task") if item_tasks else {str(task): 1.0}, source_weights or {})
        if task == "labels":
            self.label_names = list(CHEXPERT_OBSERVATIONS)
        self.max_tokens = None if task == "labels" else sequence_limit(model)
        if self.max_tokens is not None:
            warn_long_answers(self.items, model.tokenizer, self.max_tokens)

    def _group_items(self, item_tasks: list[str], tasks: dict[str, float], sources: dict[str, float]) -> None:
        """``groups[i]`` of each item, by (data source, task); each group's weight is source x task weight."""
        keys = [(str(study.meta.get(SOURCE_KEY, "")), name) for (study, _, _), name in zip(self.items, item_tasks)]
        self.group_names = sorted(set(keys), key=lambda k: (list(sources).index(k[0]) if k[0] in sources else -1,
                                                            list(tasks).index(k[1])))
        index = {k: i for i, k in enumerate(self.group_names)}
        self.groups = [index[k] for k in keys]
        self.group_weights = [sources.get(src, 1.0) * tasks[name] for src, name in self.group_names]

    def group_label(self, group: int) -> str:
        """"source/task", "source" or "task": how logs and train_summary.json name a group."""
        source, name = self.group_names[group]
        tasks = {n for _, n in self.group_names}
        return "/".join(part for part in (source, name if len(tasks) > 1 or not source else "") if part)

    def batch_sampler(self, batch_size: int, total: int, *, seed: int, start: int = 0, rank: int = 0,
                      world_size: int = 1) -> Sampler[list[int]]:
        """The stage's micro-batch order: plain seeded epochs for one group, weighted mixing for several."""
        if len(self.group_names) <= 1:
            return StepBatchSampler(len(self), batch_size, total, seed=seed, start=start, rank=rank,
                                    world_size=world_size)
        return MixtureBatchSampler(self.groups, self.group_weights, batch_size, total, seed=seed, start=start,
                                   rank=rank, world_size=world_size)

    def group_counts(self, batch_size: int, micro_batches: int, *, seed: int, world_size: int = 1) -> dict[str, int]:
        """Examples per group (source/task) in a stage's first ``micro_batches``; empty with one group."""
        if len(self.group_names) <= 1:
            return {}
        sampler = MixtureBatchSampler(self.groups, self.group_weights, batch_size, micro_batches, seed=seed,
                                      world_size=world_size)
        counts = sampler.group_counts(micro_batches)
        return {self.group_label(g): counts.get(g, 0) for g in range(len(self.group_names))}

    def __len__(self) -> int:
        return len(self.items)

    def pixels(self, image: str) -> torch.Tensor:
        return self.transform(load_image(image))

    def __getitem__(self, index: int) -> dict[str, Any]:
        study, question, answer = self.items[index]
        item: dict[str, Any] = {}
        prompt, paths = self.model.prompt.render_study(study, question) if self.task != "labels" else \
            (None, [study.image])
        key = "image_features" if self.features is not None else "pixel_values"
        read = self.features.load if self.features is not None else self.pixels
        # a multi-image prompt's item carries a list (its images in prompt order); collate flattens the lists
        item[key] = [read(path) for path in paths] if self.model.prompt.multi_image and prompt else read(paths[0])
        if self.task == "labels":
            item["label_targets"], item["label_mask"] = label_targets(study, self.label_names, self.uncertain)
            return item
        item.update(encode_example(self.model.tokenizer, self.model.prompt, answer,
                                   indication=study.indication if question is None else None,
                                   question=question, max_answer_tokens=self.max_answer_tokens, prompt=prompt))
        if self.max_tokens is not None and len(item["input_ids"]) > self.max_tokens:
            # an over-long answer is cut to the LLM's context (one ~100k-character report must not exhaust memory)
            item["input_ids"], item["labels"] = item["input_ids"][:self.max_tokens], item["labels"][:self.max_tokens]
        return item


def sequence_limit(model: RadiologyVLM) -> int | None:
    """Prompt + answer tokens that fit the LLM's context next to the image tokens (None: no known limit)."""
    context = getattr(getattr(model.language_model, "config", None), "max_position_embeddings", None)
    if not isinstance(context, int) or context <= 0:
        return None
    # each placeholder id becomes an image's tokens
    return max(1, context - len(model.prompt.images) * (model.image_tokens() - 1))


def warn_long_answers(items: Sequence[tuple[Study, str | None, str | None]], tokenizer: Any, limit: int) -> None:
    """One warning naming the answers that do not fit the context and will be cut."""
    # a token spans at least one character: only answers longer than ``limit`` characters need tokenizing
    long = [(study, answer) for study, _, answer in items if answer and len(answer) > limit]
    over = [(study, answer) for study, answer in long
            if len(tokenizer(answer, add_special_tokens=False).input_ids) > limit]
    if over:
        study, answer = max(over, key=lambda pair: len(pair[1]))
        warnings.warn(f"{len(over)} training answer(s) do not fit the {limit} tokens the LLM's context leaves "
                      f"for text and are cut to fit (longest: study {study.id}, {len(answer):,} characters); "
                      "check the data for reports joined together", stacklevel=2)


def collate(items: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Stack images/targets and right-pad token ids into one batch."""
    batch: dict[str, torch.Tensor] = {}
    if "input_ids" in items[0]:
        batch.update(collate_examples([{"input_ids": i["input_ids"], "labels": i["labels"]} for i in items], pad_id))
    for key in ("pixel_values", "image_features", "label_targets", "label_mask"):
        if key in items[0]:  # a list is one study's images: each becomes a row, in order
            batch[key] = torch.stack([t for i in items for t in (i[key] if isinstance(i[key], list) else [i[key]])])
    return batch


class StepBatchSampler(Sampler[list[int]]):
    """The stage's micro-batches in a fixed order set by the seed, from micro-batch ``start`` on.

    Every epoch is a seeded permutation; each global batch (``batch_size x world_size`` items, the
    last one wrapped around when several ranks share it) is split across ranks. The order depends on
    the seed only, so a resumed run sees exactly the batches an uninterrupted one would.
    """

    def __init__(self, num_items: int, batch_size: int, total: int, *, seed: int, start: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.n, self.batch_size, self.total, self.seed = num_items, batch_size, total, seed
        self.start, self.rank, self.world = start, rank, world_size
        self.per_epoch = batches_per_epoch(num_items, batch_size, world_size)

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        order: list[int] = []
        epoch = -1
        glob = self.batch_size * self.world
        for micro in range(self.start, self.total):
            if micro // self.per_epoch != epoch:
                epoch = micro // self.per_epoch
                gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
                order = torch.randperm(self.n, generator=gen).tolist()
            pos = (micro % self.per_epoch) * glob
            chunk = order[pos:pos + glob]
            if self.world > 1 and len(chunk) < glob:  # every rank needs a full share
                chunk = (chunk + order * math.ceil(glob / self.n))[:glob]
            yield chunk[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]


def batches_per_epoch(num_items: int, batch_size: int, world_size: int = 1) -> int:
    return math.ceil(num_items / (batch_size * world_size))
