"""``iu-xray``: R2Gen's IU X-ray ``annotation.json`` — {"train": [{id, report, image_path: [...], split}],
"val": [...], "test": [...]}, images under ``image_root`` (default: the ``images`` folder beside it)."""

from __future__ import annotations

from collections.abc import Iterator

from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import load_json
from radzoo.data.study import Study

OPTIONS = {
    "images": "first",  # "first": the first (frontal) image of each case; "all": one study per image
}


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """One study per case (or per image with images: all)."""
    data = load_json(source.path)
    if not isinstance(data, dict):
        raise ValueError(f"{source.path}: expected an object with train/val/test lists (R2Gen annotation.json)")
    if source.options["images"] not in ("first", "all"):
        raise ValueError(f"data.options.images must be 'first' or 'all', got {source.options['images']!r}")
    # R2Gen keeps images in images/ beside annotation.json; an explicit image_root wins
    root = source.image_root
    if root == source.path.parent and (root / "images").is_dir():
        root = root / "images"
    for split_key, records in data.items():
        if not isinstance(records, list):
            continue
        for index, record in enumerate(records):
            case = str(record.get("id", f"{split_key}{index}"))
            where = f"{source.path.name} {split_key}[{index}] (id {case})"
            paths = record.get("image_path") or []
            if isinstance(paths, str):
                paths = [paths]
            if not paths:
                log.problem("missing_image_path", where, "empty image_path")
                continue
            chosen = paths[:1] if source.options["images"] == "first" else paths
            for n, image in enumerate(chosen):
                yield Study(id=case if len(chosen) == 1 else f"{case}/{n}", image=str(root / image),
                            report=" ".join(str(record.get("report") or "").split()),
                            split=record.get("split") or split_key, meta={"case": case})
