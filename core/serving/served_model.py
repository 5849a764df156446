"""The model a server answers with: loaded like ``radzoo generate`` loads it, plus where its weights came from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radzoo.errors import InputError
from radzoo.generation.pipeline import EXPORT_MARKER, ReportGenerator, generation_kwargs, load_model, prepare_model
from radzoo.serving.report_runner import ReportRunner

PROVENANCE = "provenance.json"  # written by `radzoo import` next to an imported model's weights
PROVENANCE_KEYS = ("format", "source", "upstream", "repo", "repo_id", "model")


@dataclass
class ServedModel:
    """The model's name (what requests must name), its runner and the origin of its weights."""

    name: str
    runner: ReportRunner
    weights_from: str
    provenance: dict[str, Any] | None


def load_served_model(source: str, overrides: Sequence[str] = (), device: str = "cpu",
                      dtype: str = "fp32") -> ServedModel:
    """Load SOURCE (a recipe, run, export or imported model directory) exactly as ``radzoo generate`` does."""
    model, recipe = load_model(source, None, overrides)
    model = prepare_model(model, device, dtype)
    generator = ReportGenerator(model, generation_kwargs(recipe.generation), str(recipe.name))
    weights_from, provenance = weights_origin(source)
    return ServedModel(str(recipe.name), ReportRunner(generator), weights_from, provenance)


def weights_origin(source: str | Path) -> tuple[str, dict[str, Any] | None]:
    """"imported (...)" with the provenance record, "export", "trained run" or "recipe (untrained)"."""
    path = Path(source)
    if (path / PROVENANCE).is_file():
        try:
            provenance = json.loads((path / PROVENANCE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path / PROVENANCE} cannot be read ({exc}); re-run radzoo import") from None
        if not isinstance(provenance, dict):
            provenance = {"provenance": provenance}
        named = [provenance[k] for k in PROVENANCE_KEYS if isinstance(provenance.get(k), str) and provenance[k]]
        return f"imported ({', '.join(named) or PROVENANCE})", provenance
    if (path / EXPORT_MARKER).is_file():
        return "export", None
    if path.is_dir() and (path / "recipe.yaml").is_file():
        return "trained run", None
    return "recipe (untrained)", None
