"""Whole-file writes that readers never see half done: a temporary file beside the target, then a rename.

``atomic_directory`` does the same for a whole folder (an export, an imported run).

``atomic_target`` is the one way radzoo writes a finished file, whatever the format: the writer (our own code,
safetensors, matplotlib, csv) fills a temporary path in the same folder, which is flushed to disk and renamed over
the target only when the writer succeeded. The finished file gets the permissions the process umask allows, as
a plain ``open`` would (``tempfile.mkstemp`` and safetensors both create owner-only files).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from radzoo.errors import OutputExistsError

TEMP_SUFFIX = ".tmp"


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed over ``path``, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per process and call: DDP ranks and threads may write the same target at once
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        yield tmp
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        tmp.chmod(0o666 & ~process_umask())
        os.replace(tmp, path)
    except BaseException:  # a kill or a full disk leaves the old file, never a stray temporary one
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``path`` (which must be absent or an empty folder); on success it gets
    the umask's permissions and is renamed to ``path``, else removed, so no one sees half a directory there."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise OutputExistsError(f"--out {path}: exists and is not an empty directory; choose a new directory")
    stage = path.with_name(f".{path.name}.partial")
    shutil.rmtree(stage, ignore_errors=True)  # what a killed writer left
    stage.mkdir(parents=True)
    try:
        yield stage
        stage.chmod(0o777 & ~process_umask())
        if path.exists():
            path.rmdir()
        stage.rename(path)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def process_umask() -> int:
    """The current umask, read without changing it where the OS allows (a set-and-restore races threads)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def stale_temporaries(folder: str | Path) -> list[Path]:
    """Temporary files a killed writer left in ``folder`` (never a finished file)."""
    return sorted(Path(folder).glob(f".*{TEMP_SUFFIX}"))


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a uniquely named temporary file in the same folder."""
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, payload: Any, *, indent: int | None = 1,
                      default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``payload`` as JSON (newline-terminated) atomically."""
    return write_text_atomic(path, json.dumps(payload, indent=indent, default=default) + "\n")
