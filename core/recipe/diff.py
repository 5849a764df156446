"""Which keys two resolved recipes differ in: what ``--resume`` names when the recipe changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat or {prefix: node}


def recipe_differences(saved: str | Path, current: DictConfig, limit: int = 3) -> str:
    """``key: saved -> now`` for up to ``limit`` keys where the saved recipe file and ``current`` differ."""
    try:
        before = _flat(OmegaConf.to_container(OmegaConf.load(saved), resolve=True))
    except (OSError, ValueError):
        return "the saved recipe cannot be read"
    now = _flat(OmegaConf.to_container(current, resolve=True))
    keys = sorted(k for k in before.keys() | now.keys() if before.get(k, "<unset>") != now.get(k, "<unset>"))
    shown = [f"{k}: {before.get(k, '<unset>')!r} -> {now.get(k, '<unset>')!r}" for k in keys[:limit]]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return "; ".join(shown) + more if shown else "no key differs (an older radzoo saved it)"
