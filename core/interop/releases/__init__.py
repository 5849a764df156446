"""Importing published CXR report-generation releases as ordinary radzoo run directories.

``import_release(FORMAT, SRC, OUT)`` reads a release as ``hf download`` leaves it and writes a run directory
that ``radzoo.runs.open.open_model`` (so generate, evaluate, compare, export, train --init) loads like
any trained run. Every format writes the same self-contained, relocatable layout:

    OUT/recipe.yaml        registered components with the release's settings; paths relative to OUT
    OUT/llm/               a plain transformers causal-LM directory (safetensors shards, config, tokenizer)
    OUT/encoder/           the image tower in the files its encoder plugin reads (safetensors + config)
    OUT/model.safetensors  the projector (``adapter.*``), the only part with no directory of its own
    OUT/provenance.json    each source file's name and sha256, the upstream licence, the conversions done

Nothing is downloaded, no remote code runs, pickles load with ``weights_only=True``, and tensors keep the dtype
they were released in unless ``dtype`` says otherwise. The directory is built beside OUT and renamed into place,
so a failed import leaves nothing behind. One module per format; ``run_writer`` and ``lm_shards`` are shared.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from radzoo.errors import InputError

# format -> module defining ``import_into(stage, src, base_llm, dtype) -> ImportInfo``
FORMATS = {
    "llava-rad": "radzoo.interop.releases.llava_rad",
    "cxr-llava": "radzoo.interop.releases.cxr_llava",
    "slava-cxr": "radzoo.interop.releases.slava_cxr",
    "maira-2": "radzoo.interop.releases.maira2",
    "llava-hf": "radzoo.interop.llava_hf.importer",
}


def import_release(fmt: str, src: str | Path, out: str | Path, base_llm: str | Path | None = None,
                   dtype: str | None = None) -> Path:
    """Write the run directory ``out`` from the release in ``src`` (format ``fmt``); returns ``out``."""
    from radzoo.interop.releases.run_writer import write_run  # torch: `radzoo import --help` reads FORMATS

    if fmt not in FORMATS:
        raise InputError(f"unknown import format {fmt!r}; formats: {', '.join(FORMATS)}")
    module = importlib.import_module(FORMATS[fmt])
    return write_run(fmt, module.import_into, Path(src).expanduser(), Path(out).expanduser(),
                     Path(base_llm).expanduser() if base_llm is not None else None, dtype)
