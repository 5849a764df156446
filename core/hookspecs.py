"""The public plugin contract: pluggy markers and the four register hooks.

Third-party packages implement these hooks and expose their module under the ``radzoo``
entry-point group. Keep these signatures stable.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "radzoo"
ENTRY_POINT_GROUP = "radzoo"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def radzoo_register_encoders(registry) -> None:
    """Add vision encoders: ``registry.add(name, factory, **metadata)``."""


@hookspec
def radzoo_register_llms(registry) -> None:
    """Add language models: the factory returns a ``LanguageModel`` wrapper."""


@hookspec
def radzoo_register_adapters(registry) -> None:
    """Add adapters: the factory is called as ``factory(in_dim=..., out_dim=..., **args)``."""


@hookspec
def radzoo_register_evaluators(registry) -> None:
    """Add evaluators: the factory returns an ``Evaluator``."""


# component kind -> the hook that fills its registry
KIND_HOOKS = {
    "encoder": "radzoo_register_encoders",
    "llm": "radzoo_register_llms",
    "adapter": "radzoo_register_adapters",
    "evaluator": "radzoo_register_evaluators",
}
