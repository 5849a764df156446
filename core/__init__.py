"""radzoo: a plugin-based model zoo for small chest X-ray report-generation models.

Heavy modules (torch, transformers) load lazily so that `radzoo --help` and `radzoo plugins` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from radzoo.hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first attribute access
_LAZY = {
    "load_recipe": "radzoo.recipe.load",
    "RecipeError": "radzoo.recipe.load",
    "build_model": "radzoo.model.build",
    "RadiologyVLM": "radzoo.model.vlm",
    "get_plugins": "radzoo.components.discovery",
    "registries": "radzoo.components.discovery",
    "Registry": "radzoo.components.registry",
    "lazy": "radzoo.components.registry",
    "evaluate": "radzoo.evaluation.pipeline",
    "train": "radzoo.training.pipeline",
    "generate": "radzoo.generation.pipeline",
    "compare": "radzoo.comparison.pipeline",
}

__all__ = ["hookimpl", "hookspec", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'radzoo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
