"""Recipes: YAML -> validated DictConfig (extends, overrides, schema, secrets guard, hash).

``from radzoo.recipe import load_recipe`` keeps working; the names load lazily, so importing a submodule stays
cheap.
"""

import importlib

_PUBLIC = {"load_recipe": "load", "apply_overrides": "load", "save_recipe": "load", "find_recipe": "load",
           "recipe_hash": "load", "RecipeError": "load"}


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'radzoo.recipe.load' has no attribute {name!r}")
    return getattr(importlib.import_module(f"radzoo.recipe.load.{_PUBLIC[name]}"), name)
