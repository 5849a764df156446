"""The model a server answers with: loaded like ``radzoo generate`` loads it, plus where its weights came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from radzoo.generation.pipeline import ReportGenerator, prepare_model
from radzoo.recipe.decode_settings import DecodeSettings
from radzoo.runs.layout import origin_of
from radzoo.runs.open import open_model
from radzoo.serving.report_runner import ReportRunner


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
    model, recipe = open_model(source, overrides)
    model = prepare_model(model, device, dtype)
    generator = ReportGenerator(model, DecodeSettings.from_recipe(recipe.generation), str(recipe.name))
    origin = origin_of(source)
    return ServedModel(str(recipe.name), ReportRunner(generator), origin.text, origin.provenance)

