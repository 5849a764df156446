"""Recipes: YAML -> validated DictConfig (extends, overrides, schema, secrets guard, hash).

``from radzoo.recipe import load_recipe`` works; the names load lazily, so importing a submodule stays cheap.
"""

from radzoo.lazy_modules import lazy_getattr

_PUBLIC = {"load_recipe": ".load", "apply_overrides": ".load", "save_recipe": ".load", "find_recipe": ".load",
           "recipe_hash": ".load", "RecipeError": ".load"}
__all__ = list(_PUBLIC)
__getattr__ = lazy_getattr(__name__, _PUBLIC)
