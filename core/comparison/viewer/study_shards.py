"""Per-study texts and image paths as small script files next to the page (``data/studies-00000.js``...).

The page keeps only what filters and sorts need (ids, labels, per-study metrics) and loads a page's report texts
on demand. Browsers refuse ``fetch()`` of ``file://`` URLs, but a ``<script src>`` loads from ``file://``, so each
shard is a script that hands its data to ``radzooStudies(shard, data)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from radzoo.files.atomic import write_text_atomic

SHARD_DIR = "data"
SHARD_SIZE = 25  # studies per file: a page of 50 sorted studies touches at most 50 small files, never big ones
CALLBACK = "radzooStudies"


def shard_name(index: int) -> str:
    """The shard file's path relative to the page (the page's JS builds the same name)."""
    return f"{SHARD_DIR}/studies-{index:05d}.js"


def shard_script(index: int, data: Mapping[str, Any]) -> str:
    """A shard's file text: one call that passes its data (JSON is valid JavaScript; U+2028 too, since ES2019)."""
    return f"{CALLBACK}({index},{json.dumps(data, ensure_ascii=False, separators=(',', ':'))});\n"


def write_study_shards(viewer_dir: Path, references: Sequence[str], systems: Mapping[str, Sequence[str]],
                       images: Sequence[Any], size: int = SHARD_SIZE,
                       grounding: Mapping[str, Sequence[Any]] | None = None) -> int:
    """Write every shard (reference and system texts, images, and the grounded rows' boxes, of ``size`` studies
    each) and remove shards a bigger earlier build left behind; returns the number of shards."""
    folder = viewer_dir / SHARD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    count = (len(references) + size - 1) // size
    for k in range(count):
        part = slice(k * size, (k + 1) * size)
        data = {"reference": list(references[part]), "systems": {n: list(t[part]) for n, t in systems.items()},
                "images": list(images[part])}
        if grounding:
            data["grounding"] = {name: list(rows[part]) for name, rows in grounding.items()}
        write_text_atomic(viewer_dir / shard_name(k), shard_script(k, data))
    for stale in folder.glob("studies-*.js"):
        if not stale.stem.removeprefix("studies-").isdigit() or int(stale.stem.removeprefix("studies-")) >= count:
            stale.unlink()
    return count
