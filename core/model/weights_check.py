"""Before building: are the recipe's encoder and LLM weights here? All missing parts named in one error, at once.

Each component may register a light ``weights_check`` (see radzoo.components.registry): it reads the recipe's
args and the local Hugging Face cache, importing no torch model library. With the hub unreachable (or
``HF_HUB_OFFLINE``) these checks run before any factory, so ``radzoo build`` fails in a second or two instead of
after importing open_clip/transformers and retrying the hub for a minute per part.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from radzoo.components.discovery import get_plugins
from radzoo.files.hub_access import go_offline_if_unreachable
from radzoo.files.weights import WeightsNotFoundError

WEIGHTED_PARTS = ("encoder", "llm")


def component_args(node: Any) -> dict[str, Any]:
    """A recipe node's ``args`` as plain keywords (interpolations resolved)."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def missing_parts_error(problems: list[str]) -> WeightsNotFoundError:
    """One error naming every missing part (numbered when there are several)."""
    if len(problems) == 1:
        return WeightsNotFoundError(problems[0])
    return WeightsNotFoundError(f"{len(problems)} parts are missing locally: "
                                + " ".join(f"({i}) {m}" for i, m in enumerate(problems, 1)))


def offline_problems(recipe: DictConfig) -> list[str]:
    """Why each of the recipe's parts cannot load without the hub, from the checks the components registered."""
    plugins, problems = get_plugins(), []
    for kind in WEIGHTED_PARTS:
        registry = plugins.registry(kind)
        name = recipe[kind].name
        check = registry.spec(name).weights_check if name in registry else None
        problem = check(**component_args(recipe[kind].args)) if check is not None else None
        if problem:
            problems.append(problem)
    return problems


def check_weights_up_front(recipe: DictConfig) -> None:
    """With the hub unreachable, raise one WeightsNotFoundError naming every part whose weights are not local."""
    if not go_offline_if_unreachable():
        return  # the factories download what is missing
    problems = offline_problems(recipe)
    if problems:
        raise missing_parts_error(problems)
