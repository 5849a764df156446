"""Third-party torch files (chexbert.pth, .pt/.bin weights): loaded with ``weights_only=True``, so data, never code.

A pickle that names a Python callable (the way a malicious file runs code on load) is refused by torch's
weights-only unpickler before anything runs; ``load_weights_only`` turns that refusal, and a corrupt file, into
one line that says which object was refused, instead of torch's long advice to load it unsafely.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from radzoo.errors import InputError

REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


class UnsafeTorchFile(InputError):
    """A torch file that holds Python objects other than tensors and plain data."""


def load_weights_only(path: str | Path, safe_globals: Sequence[Any] = (), mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; refused or unreadable files raise one-line ValueErrors.

    ``mmap`` maps the tensors' storage from the file instead of reading it (multi-GB shards stream).
    """
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        found = REFUSED_GLOBAL.search(str(exc))
        what = f"the Python object {found.group(1)}" if found else "Python objects"
        raise UnsafeTorchFile(f"{path} holds {what}, not only tensors: radzoo never unpickles arbitrary objects "
                              "(it loads torch files with weights_only=True), so the file was refused unrun") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not a readable torch file ({first_line}); re-download it") from None
