"""A package's ``__getattr__`` (PEP 562) that imports its public names and submodules on first access.

``import radzoo`` then ``radzoo.training.pipeline.train`` or ``from radzoo.recipe import load_recipe`` work without
importing torch up front: ``radzoo --help`` and the early recipe checks stay fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, names: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """``__getattr__`` for ``package``: ``names`` maps a public name to the module defining it (absolute, or
    relative to the package with a leading dot); any other name is tried as a submodule of the package."""
    names = dict(names or {})

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name], package), name)
        if not name.startswith("__"):
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":  # the submodule exists but one of its imports is missing
                    raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
