"""radzoo's ``import`` -> ``generate --dtype fp32`` path on a replica, in the figures the upstream goldens record.

The goldens (goldens/*.json) come from running the official inference code (tools/*_goldens.py); this side runs
only radzoo: ``import_release``, then the run loaded, moved to fp32 on the CPU and decoded by the same
``ReportGenerator`` that ``radzoo generate`` uses, one study per batch as the official scripts do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import open_clip.pretrained  # noqa: F401 (imported at collection: it binds the hub download hub_calls_fail patches)
import published_replicas as replicas
import torch

from radzoo.data.study import Study
from radzoo.generation.pipeline import ReportGenerator, generation_kwargs, load_model, prepare_model
from radzoo.model.prompting import IMAGE_TOKEN_INDEX
from radzoo.runs.importers import import_release

GOLDENS = Path(__file__).parent / "goldens"


def golden(name: str) -> dict:
    return json.loads((GOLDENS / name).read_text())


@dataclass
class StudyOutputs:
    """What radzoo made of one study: prompt ids, pixels, first-step logits (last prompt position), new ids."""

    prompt_ids: list[int]
    pixels: torch.Tensor
    first_logits: torch.Tensor
    greedy_ids: list[int]


def import_replica(fmt: str, src: Path, out: Path, golden_digests: dict[str, str]) -> ReportGenerator:
    """``radzoo import`` of the replica in ``src`` (checked to be byte for byte the one the goldens saw)."""
    assert replicas.digests(src) == golden_digests, "the replica builder no longer writes what the goldens saw"
    run = import_release(fmt, src, out)
    model, recipe = load_model(run)
    model = prepare_model(model, "cpu", "fp32")
    return ReportGenerator(model, generation_kwargs(recipe.generation), str(recipe.name))


def import_and_run(fmt: str, write, root: Path, folder: str, gold: dict) -> tuple[ReportGenerator, list]:
    """Build the replica with ``write(dir)``, import it and run every replica study through generate."""
    write(root / folder)
    generator = import_replica(fmt, root / folder, root / "run", gold["replica_digests"])
    return generator, [run_study(generator, f) for f in study_files(root / "studies")]


@torch.no_grad()
def run_study(generator: ReportGenerator, image_file: Path, indication: str | None = None) -> StudyOutputs:
    """One study through the generate path; prompt ids with the image sentinel where the image goes."""
    batch = generator.prepare([Study(id=image_file.stem, image=str(image_file), indication=indication,
                                     split="test")])
    assert not batch.failed, batch.failed
    inputs = batch.inputs
    logits = generator.model(**inputs).logits[0, -1]
    new = generator.generate_ids(inputs)[0].tolist()
    eos = generator.model.tokenizer.eos_token_id
    if eos in new:
        new = new[:new.index(eos) + 1]
    return StudyOutputs(inputs["input_ids"][0].tolist(), inputs["pixel_values"], logits, new)


def study_files(directory: Path) -> list[Path]:
    """The replica studies' images as PNG files (lossless: the official scripts got the same pixels)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(replicas.STUDIES):
        path = directory / f"study{index}.png"
        replicas.study_image(index).save(path)
        files.append(path)
    return files


def assert_pixels_match(pixels: torch.Tensor, summary: dict, atol: float = 1e-5) -> None:
    ours = replicas.pixel_summary(pixels)
    assert ours["shape"][-3:] == summary["shape"][-3:]
    torch.testing.assert_close(torch.tensor(ours["first"]), torch.tensor(summary["first"]), atol=atol, rtol=0)
    n = pixels.numel()
    assert abs(ours["sum"] - summary["sum"]) <= atol * n and abs(ours["sum_sq"] - summary["sum_sq"]) <= 10 * atol * n


def official_ids(ids: list[int], image_token: int | None = None) -> list[int]:
    """Prompt ids in the official form: the sentinel (or ``image_token`` run-length expanded) for the image."""
    return [IMAGE_TOKEN_INDEX if image_token is not None and i == image_token else i for i in ids]


def agreement(ours: list[StudyOutputs], goldens: list[dict]) -> int:
    """How many studies' greedy ids equal the official ones."""
    return sum(o.greedy_ids == g["greedy_ids"] for o, g in zip(ours, goldens, strict=True))
