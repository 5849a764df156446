"""Where radzoo caches what it makes (synthetic sets, judge and RADEX answers): $RADZOO_CACHE or ~/.cache/radzoo."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$RADZOO_CACHE, else ~/.cache/radzoo."""
    return Path(os.environ.get("RADZOO_CACHE") or Path.home() / ".cache" / "radzoo").expanduser()
