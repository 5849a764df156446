"""radzoo: a plugin-based model zoo for small chest X-ray report-generation models.

Heavy modules (torch, transformers) load lazily so that `radzoo --help` and `radzoo plugins` stay fast.
"""

from __future__ import annotations

from radzoo.hookspecs import hookimpl, hookspec
from radzoo.lazy_modules import lazy_getattr

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first attribute access. The end-to-end functions take what
# their commands take and default as the commands do (radzoo.api); subpackages (radzoo.training, ...) load too.
_LAZY = {
    "load_recipe": "radzoo.recipe.load",
    "RecipeError": "radzoo.recipe.load",
    "build_model": "radzoo.model.build",
    "RadiologyVLM": "radzoo.model.vlm",
    "get_plugins": "radzoo.components.discovery",
    "registries": "radzoo.components.discovery",
    "Registry": "radzoo.components.registry",
    "lazy": "radzoo.components.registry",
    "evaluate": "radzoo.api",
    "train": "radzoo.api",
    "generate": "radzoo.api",
    "compare": "radzoo.api",
}

__all__ = ["hookimpl", "hookspec", "__version__", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY)
