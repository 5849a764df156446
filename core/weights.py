"""Where model weights come from: local directories or hub ids, with a clear error when neither is there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class WeightsNotFoundError(FileNotFoundError):
    """Weights that are neither in a local directory nor in the local hub cache."""


def is_local(ref: str | Path) -> bool:
    """True for an existing local file or directory (what users pass instead of a hub id)."""
    return Path(str(ref)).expanduser().exists()


def missing_weights_message(ref: str, recipe_key: str, what: str = "model") -> str:
    return (
        f"cannot load {what} {ref!r}: it is not a local path and is not in the local Hugging Face cache "
        f"(this machine cannot download it, or HF_HUB_OFFLINE is set). On a machine with hub access run "
        f"`hf download {ref} --local-dir DIR`, copy DIR here, and set `{recipe_key}=DIR` in the recipe "
        f"or on the command line."
    )


@contextlib.contextmanager
def explain_missing_weights(ref: str, recipe_key: str, what: str = "model") -> Iterator[None]:
    """Turn the hub client's not-found/offline errors for ``ref`` into one actionable message."""
    try:
        yield
    except WeightsNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        text = str(exc).lower()
        markers = ("offline", "connect", "couldn't find", "cannot find", "not found", "does not appear",
                   "local_files_only", "no such file", "is not a local folder", "localentrynotfound",
                   "huggingface.co", "not a valid model identifier", "repository not found")
        if is_local(ref) or not any(m in text for m in markers):
            raise
        raise WeightsNotFoundError(missing_weights_message(ref, recipe_key, what)) from exc
