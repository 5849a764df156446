"""Whole-file writes that readers never see half done: a temporary file beside the target, then a rename."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a uniquely named temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:  # a kill or a full disk leaves the old file, never a stray temporary one
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, payload: Any, *, indent: int = 1,
                      default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``payload`` as JSON (newline-terminated) atomically."""
    return write_text_atomic(path, json.dumps(payload, indent=indent, default=default) + "\n")
