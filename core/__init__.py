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
    "load_recipe": "radzoo.recipe",
    "RecipeError": "radzoo.recipe",
    "build_model": "radzoo.build",
    "RadiologyVLM": "radzoo.model",
    "get_plugins": "radzoo.discovery",
    "registries": "radzoo.discovery",
    "Registry": "radzoo.registry",
    "evaluate": "radzoo.evaluate",
    "train": "radzoo.train",
    "generate": "radzoo.generate",
    "compare": "radzoo.compare",
}

__all__ = ["hookimpl", "hookspec", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'radzoo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
