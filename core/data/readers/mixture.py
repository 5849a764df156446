"""``mixture``: several data sets read as one, each with a sampling weight (LLaVA-Rad trains on seven).

    data: [{format: mimic-cxr, path: /data/mimic, weight: 0.7}, {format: chexpert-plus, path: ..., weight: 0.3}]

is shorthand for ``{format: mixture, options: {sources: [...]}}``. Each source is a ``data`` section of its
own (format, path, image_root, options) plus ``name`` (default: its format) and ``weight`` (default 1). Every
source gives its train split; the validate and test splits come from one source only, ``eval_source`` (a
name; default the first source, or the one marked ``evaluate: true``). Each study carries its source's
name in ``meta["mixture_source"]``; training draws the sources by weight (radzoo.training.mixture_sampler).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from radzoo.data.readers.result import SkipLog
from radzoo.data.study import Study
from radzoo.errors import InputError

OPTIONS: dict[str, Any] = {"sources": [], "eval_source": None}
SOURCE_KEY = "mixture_source"
SOURCE_ONLY_KEYS = ("name", "weight", "evaluate")


def default_path(options: dict[str, Any]) -> Path:
    """A mixture has no file of its own: its sources name theirs."""
    return Path.cwd()


def data_shorthand(layer: Any) -> Any:
    """A recipe layer whose ``data`` is a list of sources, with that list made a ``mixture`` section."""
    if not isinstance(layer, Mapping) or not isinstance(layer.get("data"), list):
        return layer
    sources = [dict(s) if isinstance(s, Mapping) else s for s in layer["data"]]
    marked = [s.get("name") or s.get("format") for s in sources if isinstance(s, dict) and s.get("evaluate")]
    options = {"sources": sources, "eval_source": marked[0] if marked else None}
    return {**layer, "data": {"format": "mixture", "path": None, "image_root": None, "options": options}}


def named_sources(options: Mapping[str, Any]) -> list[tuple[str, float, dict[str, Any]]]:
    """(name, weight, data section) per source, names unique; a clear error for a malformed list."""
    sources = options.get("sources") or []
    if isinstance(sources, (str, Mapping)) or not isinstance(sources, Sequence) or len(sources) < 1:
        raise InputError("data.options.sources of a mixture: give a list of data sections, each with format, "
                         "path and weight")
    out: list[tuple[str, float, dict[str, Any]]] = []
    for i, source in enumerate(sources):
        if not isinstance(source, Mapping) or not source.get("format"):
            raise InputError(f"data source {i} of the mixture: expected a mapping with 'format' (and 'path', "
                             f"'weight'), got {source!r}")
        name = str(source.get("name") or source["format"])
        if name in [n for n, _, _ in out]:
            name = f"{name}{i}" if not source.get("name") else name
            if name in [n for n, _, _ in out]:
                raise InputError(f"data source {i} of the mixture: the name {name!r} is taken; give each a 'name'")
        weight = float(source.get("weight", 1.0))
        if weight <= 0:
            raise InputError(f"data source {name!r} of the mixture: weight {weight} must be above 0")
        out.append((name, weight, {k: v for k, v in source.items() if k not in SOURCE_ONLY_KEYS}))
    return out


def source_weights(data_cfg: Any) -> dict[str, float]:
    """Source name -> sampling weight of a ``mixture`` data section (empty for any other format)."""
    if data_cfg is None or str(data_cfg.get("format")) != "mixture":
        return {}
    options = data_cfg.get("options") or {}
    if isinstance(options, DictConfig):
        options = OmegaConf.to_container(options, resolve=True)
    return {name: weight for name, weight, _ in named_sources(options)}


def read(source: Any, log: SkipLog) -> Iterator[Study]:
    """Every source's studies, tagged with its name; validate/test studies from ``eval_source`` only."""
    from radzoo.data.readers import read_studies  # the driver imports this module: a top-level import would cycle

    sources = named_sources(source.options)
    names = [name for name, _, _ in sources]
    evaluate = source.options.get("eval_source") or names[0]
    if evaluate not in names:
        raise InputError(f"data.options.eval_source {evaluate!r} names no source of the mixture; "
                         f"choose one of {', '.join(names)}")
    for name, _, section in sources:
        for study in read_studies(section).studies:
            if name != evaluate and study.split != "train":
                log.filtered("not_eval_source")
                continue
            study.meta[SOURCE_KEY] = name
            yield study
