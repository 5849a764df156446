"""The part every importer shares: source checks, the staged whole-directory write, the recipe and provenance.

The run is built in a temporary directory beside ``--out`` and renamed into place only once it is complete
and its parts load, so a failed import (missing file, wrong format, shape mismatch, refused pickle) leaves no
partial run directory. Before the rename the staged encoder and projector are built from the staged recipe
and loaded strictly: what the importer wrote is what ``radzoo generate`` will load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from radzoo.components.discovery import create_component
from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import atomic_directory, write_json_atomic
from radzoo.files.weight_files import load_weights
from radzoo.recipe.load import load_recipe, save_recipe
from radzoo.runs.layout import ENCODER_DIR as ENCODER_DIR  # importers name it run_writer.ENCODER_DIR
from radzoo.runs.layout import LLM_DIR, RunDir
from radzoo.runs.open import resolve_run_paths

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class ReleaseError(InputError):
    """A source directory that is not the release its format names (wrong files, keys or shapes)."""


@dataclass
class ImportInfo:
    """What an importer hands back: the recipe, the files it read, the licence and what it converted."""

    recipe: dict[str, Any]
    sources: list[Path]
    license: str
    hub_id: str
    conversions: list[str] = field(default_factory=list)


def require_files(directory: Path, names: Iterable[str], hub_id: str, what: str) -> None:
    """Each of ``names`` must exist in ``directory``; the first missing one is named with the download command."""
    if not directory.is_dir():
        raise MissingFileError(f"{directory}: no such directory (the {what}); get it with "
                               f"`hf download {hub_id} --local-dir {directory}`")
    for name in names:
        if not (directory / name).is_file():
            raise MissingFileError(f"{directory / name} not found: the {what} needs it; get it with "
                                   f"`hf download {hub_id} --local-dir {directory}`")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; anything else is a ReleaseError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{path} is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReleaseError(f"{path} is not a JSON object")
    return data


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def target_dtype(dtype: str | None) -> torch.dtype | None:
    """``--dtype`` as a torch dtype; None keeps every tensor's released dtype."""
    if dtype is None:
        return None
    if dtype not in DTYPES:
        raise InputError(f"--dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def cast(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """``tensor`` in ``dtype`` (floating tensors only), contiguous and ready for safetensors."""
    if dtype is not None and tensor.is_floating_point():
        tensor = tensor.to(dtype)
    return tensor.contiguous()


def _provenance(fmt: str, info: ImportInfo, src: Path, base_llm: Path | None, dtype: str | None) -> dict[str, Any]:
    files = [{"file": str(p.relative_to(base_llm) if base_llm and p.is_relative_to(base_llm) else p.name),
              "from": "base_llm" if base_llm and p.is_relative_to(base_llm) else "release",
              "sha256": sha256(p), "bytes": p.stat().st_size} for p in info.sources]
    return {"format": fmt, "hub_id": info.hub_id, "license": info.license, "source": str(src.resolve()),
            "base_llm": str(base_llm.resolve()) if base_llm else None, "dtype": dtype or "as released",
            "files": files, "conversions": info.conversions}


def _check_parts(stage: Path) -> None:
    """Build the staged encoder and projector from the staged recipe and load the projector strictly."""
    recipe = resolve_run_paths(load_recipe(RunDir(stage).recipe), stage)
    encoder = create_component("encoder", recipe.encoder.name, dict(recipe.encoder.args), recipe_key="encoder")
    text = read_json(stage / LLM_DIR / "config.json")
    adapter = create_component("adapter", recipe.adapter.name, {"in_dim": int(encoder.embed_dim),
                               "out_dim": int(text["hidden_size"]), **dict(recipe.adapter.args)}, recipe_key="adapter")
    state = {k.removeprefix("adapter."): v for k, v in load_weights(RunDir(stage).weights).items()}
    try:
        adapter.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ReleaseError(f"the projector does not fit a {encoder.embed_dim}-wide tower and a "
                           f"{text['hidden_size']}-wide LLM: {' '.join(str(exc).split())[:300]}") from None


def write_run(fmt: str, importer: Callable[..., ImportInfo], src: Path, out: Path, base_llm: Path | None,
              dtype: str | None) -> Path:
    """Run ``importer`` into a staged directory beside ``out``, check it, write recipe and provenance, rename."""
    from omegaconf import OmegaConf

    if not src.is_dir():
        raise MissingFileError(f"{src}: no such directory; pass the directory `hf download` wrote")
    target_dtype(dtype)
    with atomic_directory(out) as stage:
        info = importer(stage, src, base_llm, dtype)
        save_recipe(OmegaConf.create(info.recipe), RunDir(stage).recipe)
        _check_parts(stage)
        write_json_atomic(RunDir(stage).provenance, _provenance(fmt, info, src, base_llm, dtype))
    return out


def base_recipe(name: str, description: str, paper: str, encoder: dict, adapter: dict, llm_format: str,
                prompt: dict, generation: dict) -> dict[str, Any]:
    """The recipe of an imported run: its LLM is the plain transformers directory ``llm/`` in the run."""
    return {
        "name": name, "description": description, "paper": paper,
        "encoder": {**encoder, "freeze": True},
        "adapter": {**adapter, "freeze": True},
        "llm": {"name": "hf-causal-lm", "args": {"path": LLM_DIR, "prompt_format": llm_format, "dtype": "auto"},
                "freeze": True, "lora": None},
        "prompt": {"format": llm_format, **prompt},
        "generation": generation,
    }
