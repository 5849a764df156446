"""On-disk cache of LLM-judge answers: one JSON file per key, written atomically (temp file + rename).

The key is sha256 over (endpoint host, model, prompt version, reference, candidate), so a rerun, or a run
resumed after a crash, never pays for an answer twice, and two servers that both call their model ``gpt-4o``
never share answers. The default directory is ``$RADZOO_CACHE/judge`` (``~/.cache/radzoo/judge`` when unset),
where the rest of radzoo caches too. Only what the judge said is stored: never credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from radzoo.files.atomic import write_text_atomic
from radzoo.files.cache import cache_root

DEFAULT_ENDPOINT = "api.openai.com"  # what the openai client calls when no base_url is given


def default_cache_dir() -> Path:
    """``$RADZOO_CACHE/judge``: radzoo's cache root (as for the synthetic sets), read when the judge starts."""
    return cache_root() / "judge"


def endpoint_host(base_url: str | None) -> str:
    """The host (with its port) answering the judge calls: ``http://10.0.0.5:8000/v1`` -> ``10.0.0.5:8000``."""
    return (urlsplit(base_url).netloc or base_url).lower() if base_url else DEFAULT_ENDPOINT


def judge_key(endpoint: str, model: str, prompt_version: str, reference: str, candidate: str) -> str:
    """sha256 hex digest identifying one judge call (``endpoint``: an ``endpoint_host``)."""
    payload = json.dumps([endpoint, model, prompt_version, reference, candidate], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    """Directory of ``<key[:2]>/<key>.json`` records; safe for concurrent writers (atomic rename)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record, or None when absent (an unreadable file is warned about and ignored)."""
        path = self._path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            warnings.warn(f"judge cache: ignoring unreadable {path} ({exc}); it will be recomputed", stacklevel=2)
            return None

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Write ``record`` under ``key``: a reader sees the old file or the whole new one, never a torn one."""
        write_text_atomic(self._path(key), json.dumps(record, ensure_ascii=False, indent=1))
