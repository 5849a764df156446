"""Recipes may read the environment (``${oc.env:DATA_ROOT}``) but never a credential.

The resolved recipe is saved beside every output and printed by ``radzoo recipe show``, so a recipe that
interpolates ``${oc.env:OPENAI_API_KEY}`` would copy the key into files people share. Options that need a key
take the variable's *name* instead (the judge's ``api_key_env``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from radzoo.errors import RecipeError

ENV_INTERPOLATION = re.compile(r"\$\{\s*oc\.env\s*:\s*([^,}\s]+)")
CREDENTIAL_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)


def _strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def refuse_credentials_from_env(cfg: DictConfig | ListConfig, source: str) -> None:
    """Raise RecipeError (naming file, key and variable) for an ``oc.env`` interpolation of a credential."""
    for path, text in _strings(OmegaConf.to_container(cfg, resolve=False), ""):
        for name in ENV_INTERPOLATION.findall(text):
            if CREDENTIAL_NAME.search(name):
                raise RecipeError(f"{source}: key '{path}': reads the environment variable {name}, which looks like "
                                 "a credential; a recipe is saved beside every output, so keep credentials out of "
                                 "it and pass a variable's name where an option asks for one (e.g. api_key_env)")
