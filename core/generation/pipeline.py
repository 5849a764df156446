"""Batched report generation: left-padded prompts, the KV cache, resumable JSONL output, rank sharding.

``generate(source, data=..., out=...)`` loads a model (a recipe, a run directory or an exported
directory), builds each study's prompt in the LLM's own format (with the indication when known), and
writes one JSON line per study as it goes. A rerun skips the ids already in the file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from radzoo.data.images import load_image
from radzoo.data.readers import read_studies
from radzoo.data.study import Study
from radzoo.data.tasks import TASK_PROMPT, task_fields, task_studies
from radzoo.errors import InputError, MissingFileError
from radzoo.files.jsonl import JsonlWriter
from radzoo.generation.decode_engine import RADZOO_KEYS, DecodeEngine, DecodeSettings, engine_kwargs, pick_engine
from radzoo.generation.grounding import grounded_texts
from radzoo.generation.sharding import (
    distributed_rank,
    join_process_group,
    merge_after_ranks,
    merged_ids,
    shard_path,
)
from radzoo.generation.study_fields import study_fields
from radzoo.model.build import build_model
from radzoo.model.prompting import encode_example
from radzoo.progress import Progress
from radzoo.recipe.load import load_recipe, save_recipe
from radzoo.runs.store import load_trained_model

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
EXPORT_MARKER = "export.json"  # written by `radzoo export`: the LM is a plain transformers directory


@dataclass
class GenerateResult:
    """Where the predictions went and how many studies were generated now vs found already done."""

    out: Path
    generated: int
    skipped: int
    total: int
    repaired_bytes: int = 0
    # (study id, problem) for studies left out (an unreadable image): not written, so a rerun retries them
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PreparedBatch:
    """A batch ready for the model: the studies that loaded, their inputs, and (study id, problem) of the rest."""

    studies: list[Study]
    inputs: dict[str, torch.Tensor] | None
    failed: list[tuple[str, str]]


def generation_kwargs(gen_cfg: Any) -> dict[str, Any]:
    """``generate`` keyword arguments from a recipe's ``generation`` section (greedy unless do_sample), plus the
    engine's own keys (``decode_engine.RADZOO_KEYS``); RecipeError for settings the engine cannot run."""
    kwargs: dict[str, Any] = {"max_new_tokens": int(gen_cfg.max_new_tokens), "do_sample": bool(gen_cfg.do_sample),
                              "num_beams": int(gen_cfg.num_beams)}
    if gen_cfg.do_sample:
        kwargs.update(temperature=float(gen_cfg.temperature), top_p=float(gen_cfg.top_p))
    if gen_cfg.no_repeat_ngram_size:
        kwargs["no_repeat_ngram_size"] = int(gen_cfg.no_repeat_ngram_size)
    if float(gen_cfg.repetition_penalty) != 1.0:
        kwargs["repetition_penalty"] = float(gen_cfg.repetition_penalty)
    if gen_cfg.get("cache", "dynamic") == "static":  # validated against recipe_schema.CHOICES at load
        kwargs["cache_implementation"] = "static"
    return {**kwargs, **engine_kwargs(gen_cfg)}  # which decoder runs them (ReportGenerator.generate_ids)


def _is_saved_dir(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "recipe.yaml").is_file()


def load_model(source: str | Path, checkpoint: str | Path | None = None,
               overrides: Sequence[str] = ()) -> tuple[Any, DictConfig]:
    """(model, recipe) from a recipe (untrained), a run directory, or an exported directory."""
    if checkpoint is None and _is_saved_dir(source):
        checkpoint, source = source, None
    if checkpoint is None:
        recipe = load_recipe(source, list(overrides))
        # seeded, so the untrained model (random adapter) is the same on a rerun and on every rank
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(recipe.trainer.seed))
            model = build_model(recipe, source=source)
        model.eval()
        return model, recipe
    checkpoint = Path(checkpoint)
    if not _is_saved_dir(checkpoint):
        raise MissingFileError(f"--checkpoint {checkpoint}: not a run or export directory (no recipe.yaml)")
    extra = []
    if (checkpoint / EXPORT_MARKER).is_file():
        # the exported recipe names its LM directory relative to the export; make it absolute here
        extra = [f"llm.args.path={(checkpoint / 'llm').resolve()}"]
    model, recipe = load_trained_model(checkpoint, extra + list(overrides))
    if source is not None:
        wanted = load_recipe(source, list(overrides))
        parts = ("encoder.name", "adapter.name")
        theirs = [str(wanted[p.split('.')[0]].name) for p in parts]
        ours = [str(recipe[p.split('.')[0]].name) for p in parts]
        if theirs != ours:
            raise InputError(f"recipe {source} ({' + '.join(theirs)}) does not match the model in {checkpoint} "
                             f"({' + '.join(ours)}); pass the run's own recipe or the run directory alone")
    return model, recipe


def _image_loader() -> Callable[[str], Any]:
    """radzoo's image reader (DICOM, 16-bit PNG)."""
    return load_image


def read_data(data_cfg: Any, split: str | None = None) -> Any:
    """The data readers' ReadResult (studies, and records skipped per reason) for a recipe ``data`` section."""
    return read_studies(data_cfg, split=split)


class ReportGenerator:
    """Turns a batch of studies into records with the model's greedy (or recipe-configured) reports."""

    def __init__(self, model: Any, gen_kwargs: dict[str, Any], model_name: str) -> None:
        self.model = model
        self.gen_kwargs = gen_kwargs
        self.model_name = model_name
        self.transform = model.encoder.image_transform(False)
        self.load_image = _image_loader()
        self.device = next(model.parameters()).device
        self._engine: DecodeEngine | None = None  # built on first use: it holds the KV cache and sampling seed

    def prepare(self, studies: Sequence[Study]) -> PreparedBatch:
        """The batch's inputs from the studies whose image loads; the others are returned as failures."""
        kept, pixels, failed = [], [], []
        for study in studies:
            try:
                paths = self.model.prompt.render_study(study, study.meta.get(TASK_PROMPT))[1]
                pixels += [self.transform(self.load_image(path)) for path in paths]
            except (ValueError, OSError) as exc:  # a bad file fails its own study, never the batch
                source = f"{study.meta['source']}: " if study.meta.get("source") else ""  # its file and row
                failed.append((str(study.id), source + " ".join(str(exc).split())))
                continue
            kept.append(study)
        return PreparedBatch(kept, self.inputs(kept, torch.stack(pixels)) if kept else None, failed)

    def inputs(self, studies: Sequence[Study], pixels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Right-padded prompt ids (the model re-pads to the left after splicing) and pixel values: every image
        of every study, in prompt order (``RadiologyVLM.splice`` gives each placeholder the next one)."""
        tok = self.model.tokenizer
        rendered = [self.model.prompt.render_study(s, s.meta.get(TASK_PROMPT)) for s in studies]
        rows = [encode_example(tok, self.model.prompt, None, prompt=prompt)["input_ids"] for prompt, _ in rendered]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        if pixels is None:
            pixels = torch.stack([self.transform(self.load_image(p)) for _, paths in rendered for p in paths])
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device),
                "pixel_values": pixels.to(self.device)}

    def new_token_ids(self, studies: Sequence[Study]) -> torch.Tensor:
        """``[B, T]`` generated ids (pad after a row's EOS)."""
        return self.generate_ids(self.inputs(studies))

    def generate_ids(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[B, T]`` new ids for ``inputs`` from the engine ``gen_kwargs`` pick (``generation.engine``)."""
        if pick_engine(self.gen_kwargs, self.device) == "radzoo":
            if self._engine is None:
                self._engine = DecodeEngine(self.model, seed=int(self.gen_kwargs.get("seed", 0)))
            return self._engine.generate(inputs, DecodeSettings.from_kwargs(self.gen_kwargs, self.model.tokenizer))
        hf_kwargs = {k: v for k, v in self.gen_kwargs.items() if k not in RADZOO_KEYS}
        return self.model.generate(**inputs, **hf_kwargs)

    def __call__(self, studies: Sequence[Study]) -> list[dict[str, Any]]:
        return self.records(studies, self.new_token_ids(studies))

    def records(self, studies: Sequence[Study], new_ids: torch.Tensor) -> list[dict[str, Any]]:
        """One output record per study from its generated ids."""
        texts = self.model.tokenizer.batch_decode(new_ids, skip_special_tokens=True) if not self.model.prompt.grounded \
            else grounded_texts(self.model.tokenizer, new_ids)
        records = [{"id": s.id, "prediction": text.strip(), "reference": s.report,
                    "prompt": self.model.prompt.render_study(s, s.meta.get(TASK_PROMPT))[0], "model": self.model_name,
                    **task_fields(s)} for s, text in zip(studies, texts, strict=True)]
        for record, study in zip(records, studies, strict=True) if self.model.prompt.multi_image else ():
            record.update(study_fields(self.model.prompt, study, study.meta.get(TASK_PROMPT), record["prediction"],
                                       self.load_image))
        return records


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def prepare_model(model: Any, device: str, dtype: str) -> Any:
    """Move the model to ``device``/``dtype``; on a GPU use PyTorch SDPA attention."""
    if dtype not in DTYPES:
        raise InputError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA GPU is visible; use --device cpu")
        lm = model.language_model
        setter = getattr(lm, "set_attn_implementation", None)
        if setter is not None:
            setter("sdpa")
    elif dtype == "fp16":
        raise InputError("--dtype fp16 needs a GPU; use fp32 or bf16 on CPU")
    return model.to(device=device, dtype=DTYPES[dtype]).eval()


def generate(source: str | Path, *, out: str | Path, checkpoint: str | Path | None = None,
             data: Any = None, studies: Sequence[Study] | None = None, split: str | None = None,
             batch_size: int | None = None, device: str = "cpu", dtype: str = "fp32",
             overrides: Sequence[str] = (), rank: int | None = None, world_size: int | None = None,
             task: str = "findings") -> GenerateResult:
    """Generate a report per study into ``out`` (JSONL, resumable).

    ``source``: recipe path/name, run directory or exported directory; ``checkpoint``: a run directory;
    ``data``: a recipe ``data`` section (default: the recipe's own) unless ``studies`` are given;
    ``task``: what is asked of each study read (radzoo.data.tasks; given ``studies`` are taken as they are).
    Under several ranks each rank writes ``<out>.rankR-of-W.jsonl``; rank 0 merges them into ``out``.
    """
    model, recipe = load_model(source, checkpoint, overrides)
    unread: list[tuple[str, str]] = []  # records the reader skipped are left out too: the exit status says so
    if studies is None:
        read = read_data(data if data is not None else recipe.data, split)
        studies = task_studies(read.studies, task)
        unread = read.skipped_items()
    ids = [str(s.id) for s in studies]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"study ids must be unique to resume safely; {dup!r} appears more than once")
    if rank is None or world_size is None:
        rank, world_size = distributed_rank()
        own_group = world_size > 1 and join_process_group(device)
    else:
        own_group = False
    if device == "cuda" and world_size > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
    model = prepare_model(model, device, dtype)
    out = Path(out)
    target = out if world_size == 1 else shard_path(out, rank, world_size)
    mine = list(studies)[rank::world_size]
    run = ReportGenerator(model, generation_kwargs(recipe.generation), str(recipe.name))
    size = int(batch_size or recipe.generation.batch_size)
    if size < 1:
        raise InputError(f"--batch-size must be at least 1, got {size}")
    if rank == 0:
        save_recipe(recipe, out.with_name(out.stem + ".recipe.yaml"))
    with JsonlWriter(target) as writer:
        if writer.repaired_bytes:
            log.info(f"{target}: removed a torn last line ({writer.repaired_bytes} bytes) left by an interrupted run")
        done = (writer.done | merged_ids(out)) if world_size > 1 else writer.done
        todo = [s for s in mine if str(s.id) not in done]
        skipped = len(mine) - len(todo)
        if skipped:
            log.info(f"{target}: {skipped} studies already done, {len(todo)} to go")
        chunks = list(batches(todo, size))
        progress = Progress(len(todo), f"generate {target.name}", log.info, unit="studies")
        failed: list[tuple[str, str]] = []
        # read and transform the next batch's images while the model generates this one
        with ThreadPoolExecutor(max_workers=1) as loader:
            upcoming = loader.submit(run.prepare, chunks[0]) if chunks else None
            for i in range(len(chunks)):
                batch = upcoming.result()
                if i + 1 < len(chunks):
                    upcoming = loader.submit(run.prepare, chunks[i + 1])
                for study_id, problem in batch.failed:
                    log.info(f"study {study_id}: left out, {problem}")
                failed += batch.failed
                if batch.studies:
                    writer.write_batch(run.records(batch.studies, run.generate_ids(batch.inputs)))
                progress.advance(len(chunks[i]))
        repaired = writer.repaired_bytes
    if world_size > 1:
        merge_after_ranks(out, world_size, rank, ids)
    if own_group:
        torch.distributed.destroy_process_group()
    return GenerateResult(out=out, generated=len(todo) - len(failed), skipped=skipped, total=len(mine),
                          repaired_bytes=repaired, failed=failed + unread)

