"""Override keys that address a stage: ``stages.1.lr`` by position or ``stages.finetune.lr`` by name."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from radzoo.errors import InputError


def resolve_stage_key(key: str, stage_names: Sequence[str]) -> str:
    """``key`` with its stage named by position (``stages.finetune.lr`` -> ``stages.1.lr``).

    Raises ValueError naming the recipe's stages when the position or name does not exist.
    """
    parts = key.split(".")
    if len(parts) < 2 or parts[0] != "stages":
        return key
    ref, count = parts[1], len(stage_names)
    listing = f"the recipe has {count} stage{'' if count == 1 else 's'}" + (
        f" ({', '.join(f'{i}: {n}' for i, n in enumerate(stage_names))})" if count else "")
    if ref.lstrip("-").isdigit():
        index = int(ref)
        if not -count <= index < count:
            raise InputError(f"key '{key}': stage {index} does not exist, {listing}; address a stage by "
                             f"position 0..{count - 1} or by name")
        parts[1] = str(index % count)
        return ".".join(parts)
    if ref not in stage_names:
        close = difflib.get_close_matches(ref, list(stage_names), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"key '{key}': no stage named {ref!r}, {listing}.{hint}")
    parts[1] = str(list(stage_names).index(ref))
    return ".".join(parts)
