"""Data readers: ``read_studies(recipe.data)`` picks the reader named by ``data.format``.

Each format is one module here with ``OPTIONS`` (its option names and defaults) and
``read(source, log) -> Iterator[Study]``. This driver adds what all formats share: option checking,
image path resolution, missing/empty image checks, split names and the split filter, and the
skip policy (``options.strict``: false counts and skips unusable records with one warning, true
raises on the first).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from radzoo.data.images import load_image
from radzoo.data.readers.result import DataProblem, ReadResult, SkipLog
from radzoo.data.study import Study
from radzoo.errors import InputError, MissingFileError

__all__ = ["FORMATS", "DataProblem", "ReadResult", "Source", "read_studies", "normalise_split"]

# data.format -> module in radzoo.data.readers
FORMATS = {
    "synthetic": "synthetic_set",
    "csv": "csv_table",
    "llava-json": "llava_json",
    "mimic-cxr": "mimic_cxr",
    "chexpert-plus": "chexpert_plus",
    "iu-xray": "iu_xray",
    "mixture": "mixture",
}
# options every format takes
COMMON_OPTIONS: dict[str, Any] = {
    "strict": False,  # raise on the first unusable record instead of counting and skipping it
    "verify_images": False,  # open every image while reading (slow; catches corrupt files up front)
    "require_report": True,  # a study without report text is unusable (false for inference-only data)
}
SPLIT_NAMES = {"train": "train", "training": "train", "val": "validate", "valid": "validate",
               "validate": "validate", "validation": "validate", "dev": "validate", "test": "test"}


def normalise_split(value: Any, where: str) -> str:
    """train / validate / test from the spellings data sets use (val, valid, validation, dev)."""
    name = SPLIT_NAMES.get(str(value).strip().lower())
    if name is None:
        raise DataProblem(f"{where}: unknown split {value!r}; use one of train, validate, test (or val/valid)")
    return name


@dataclass
class Source:
    """Where a reader reads from: the data file or folder, the image root and its merged options."""

    format: str
    path: Path
    image_root: Path
    options: dict[str, Any] = field(default_factory=dict)

    def resolve(self, image: str) -> Path:
        """An image path from the data, made absolute against ``image_root``."""
        p = Path(str(image).strip()).expanduser()
        return p if p.is_absolute() else self.image_root / p


def read_studies(data_cfg: Any, split: str | None = None) -> ReadResult:
    """Read the data set a recipe's ``data`` node names; keep only ``split`` (train/validate/test) if given."""
    cfg = _as_dict(data_cfg)
    fmt = str(cfg.get("format") or "synthetic")
    if fmt not in FORMATS:
        import difflib

        close = difflib.get_close_matches(str(fmt), list(FORMATS), n=1, cutoff=0.5) or [
            f for f in FORMATS if f.startswith(str(fmt))][:1]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"data.format {fmt!r} is not a known data format.{hint} Choose one of {', '.join(FORMATS)}")
    reader = importlib.import_module(f"radzoo.data.readers.{FORMATS[fmt]}")
    options = {**COMMON_OPTIONS, **reader.OPTIONS}
    given = dict(cfg.get("options") or {})
    unknown = sorted(set(given) - set(options))
    if unknown:
        raise InputError(f"data.options for format {fmt!r}: unknown option(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(options))}")
    options.update(given)
    want = normalise_split(split, "read_studies(split=...)") if split not in (None, "all") else None

    path = reader.default_path(options) if cfg.get("path") in (None, "") and hasattr(reader, "default_path") \
        else cfg.get("path")
    if path in (None, ""):
        raise InputError(f"data.path is required for format {fmt!r}: set it to the data file or folder")
    path = Path(str(path)).expanduser()
    if not path.exists():
        raise MissingFileError(f"data.path {path} does not exist (format {fmt!r}); point data.path (or --data) at "
                                "the data file or folder")
    root = cfg.get("image_root")
    image_root = Path(str(root)).expanduser() if root else (path if path.is_dir() else path.parent)
    source = Source(fmt, path, image_root, options)

    result = ReadResult()
    log = SkipLog(result, bool(options["strict"]), f"{fmt} data {path}")
    for study in reader.read(source, log):
        study.split = normalise_split(study.split, f"{path}: study {study.id}")
        if want is not None and study.split != want:
            log.filtered("other_split")
            result.other_splits[study.split] += 1
            continue
        if _usable(study, options, log):
            result.studies.append(study)
    log.warn_summary()
    return result


def _usable(study: Study, options: Mapping[str, Any], log: SkipLog) -> bool:
    where = f"study {study.id}" + (f" ({study.meta['source']})" if study.meta.get("source") else "")
    if options["require_report"] and not (study.report or "").strip():
        log.problem("empty_report", where, "no report text; add it, or set data.options.require_report=false "
                                           "for inference-only data")
        return False
    images = [Path(study.image)] + [Path(i.path) for i in study.all_images() if i.path != study.image]
    if study.prior is not None:
        images += [Path(i.path) for i in study.prior.all_images() if i.path]  # "": a prior report alone
    for image in images:
        if not image.is_file():
            log.problem("missing_image", where, f"image {image} not found; check the image paths and "
                                                "data.image_root")
            return False
        if image.stat().st_size == 0:
            log.problem("empty_image_file", where, f"image {image} is a zero-byte file; re-copy or re-download it")
            return False
        if options["verify_images"]:
            try:
                load_image(image)
            except (ValueError, OSError) as exc:
                log.problem("unreadable_image", where, str(exc))
                return False
    return True


def _as_dict(data_cfg: Any) -> dict[str, Any]:
    """A plain dict from a DictConfig, dataclass or mapping ``data`` node."""
    if data_cfg is None:
        return {}
    if isinstance(data_cfg, DictConfig):
        return OmegaConf.to_container(data_cfg, resolve=True)  # type: ignore[return-value]
    if isinstance(data_cfg, Mapping):
        return dict(data_cfg)
    if hasattr(data_cfg, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(data_cfg)
    raise TypeError(f"data config must be a mapping or DictConfig, got {type(data_cfg).__name__}")
