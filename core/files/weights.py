"""Where model weights come from: local directories or hub ids, with a clear error when neither is there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from radzoo.errors import MissingFileError


class WeightsNotFoundError(MissingFileError):
    """Weights that are neither in a local directory nor in the local hub cache."""


def is_local(ref: str | Path) -> bool:
    """True for an existing local file or directory (what users pass instead of a hub id)."""
    return Path(str(ref)).expanduser().exists()


def is_path_like(ref: str | Path) -> bool:
    """True for a reference that can only be a filesystem path, never a hub id (``org/name`` has one '/')."""
    text = str(ref)
    return (text.startswith(("~", ".")) or Path(text).is_absolute() or text.count("/") > 1
            or "\\" in text)


def missing_local_message(ref: str, recipe_key: str, what: str = "model", hub_id: str | None = None) -> str:
    source = f"`hf download {hub_id} --local-dir DIR`" if hub_id else "`hf download ORG/NAME --local-dir DIR`"
    return (
        f"cannot load {what} {ref!r}: the local directory does not exist ({recipe_key}). Set `{recipe_key}=DIR` "
        f"to a directory holding the weights (e.g. made with {source} on a machine with hub access)"
        + (", or drop the key to use the hub id." if hub_id else ".")
    )


def check_local_weights(ref: str, recipe_key: str, what: str = "model", hub_id: str | None = None) -> None:
    """Fail before any hub call when ``ref`` is a filesystem path that does not exist."""
    if is_path_like(ref) and not is_local(ref):
        raise WeightsNotFoundError(missing_local_message(ref, recipe_key, what, hub_id))


def offline_weights_problem(ref: str, recipe_key: str, what: str, files: tuple[str, ...],
                            hub_id: str | None = None, revision: str | None = None) -> str | None:
    """Why ``ref`` cannot load without the hub (a missing local path, or a hub id with none of ``files`` in the
    local Hugging Face cache), else None. Light: a cache lookup on disk, no torch, no model library."""
    if is_local(ref):
        return None
    if is_path_like(ref):
        return missing_local_message(ref, recipe_key, what, hub_id)
    from huggingface_hub import try_to_load_from_cache  # its cache rules: revisions, refs, no-exist markers

    try:
        if any(isinstance(try_to_load_from_cache(ref, file, revision=revision), str) for file in files):
            return None
    except ValueError:  # not a valid hub id either: nothing to find in the cache
        pass
    return missing_weights_message(ref, recipe_key, what)


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
