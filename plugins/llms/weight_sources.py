"""Where the built-in LLMs' weights come from, checked without torch or transformers (see
radzoo.plugins.encoders.weight_sources): the recipe's ``llm.args`` in, why they cannot load offline (or None) out."""

from __future__ import annotations

from typing import Any

from radzoo.files.weights import offline_weights_problem

PATH_KEY = "llm.args.path"


def check_reference_llm(hub_id: str, path: str | None = None, revision: str | None = None, **_: Any) -> str | None:
    """One of the papers' LLMs: ``path`` or its hub id (at ``revision``)."""
    return offline_weights_problem(path or hub_id, PATH_KEY, "language model", ("config.json",), hub_id=hub_id,
                                   revision=revision)


def check_any_causal_lm(path: str | None = None, revision: str | None = None, **_: Any) -> str | None:
    """Any transformers causal LM at ``path`` (a hub id or a local directory)."""
    if path is None:  # the factory's own argument check says what is missing
        return None
    return offline_weights_problem(path, PATH_KEY, "language model", ("config.json",), revision=revision)
