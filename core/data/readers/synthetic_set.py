"""``synthetic``: a set written by ``radzoo data synth`` (its reports.csv, read by the ``csv`` reader).

Each study's ``sections`` get its findings (the report) and an impression written from its ground truth
(radzoo.data.synthetic.impressions: its own random stream; the files are not changed).

Without ``data.path`` the set with options n/seed/image_size is generated once into the cache
($RADZOO_CACHE or ~/.cache/radzoo) and reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from radzoo.data.readers import Source, csv_table
from radzoo.data.readers.result import SkipLog
from radzoo.data.study import Study
from radzoo.data.synthetic import MANIFEST, ensure_generated
from radzoo.data.synthetic.impressions import impression_of
from radzoo.errors import MissingFileError

# multi_image: the cached set with laterals, priors and report_vs_prior (``radzoo data synth --multi-image``)
# report_column: report_vs_prior reads the reports with change sentences
OPTIONS = {"n": 1000, "seed": 0, "image_size": 128, "multi_image": False, "report_column": "report"}


def default_path(options: dict[str, Any]) -> Path:
    """The cached set for these options, generated on first use."""
    return ensure_generated(int(options["n"]), int(options["seed"]), int(options["image_size"]),
                            bool(options["multi_image"]))


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """The studies of the set's reports.csv."""
    folder = source.path if source.path.is_dir() else source.path.parent
    table = folder / "reports.csv"
    if not table.is_file():
        raise MissingFileError(f"{folder} holds no reports.csv: it is not a synthetic set; create one with "
                                f"`radzoo data synth --out {folder}` or leave data.path empty to use the cached one")
    # csv options (report_column: report_vs_prior, ...) pass through
    options = {**csv_table.OPTIONS, **{k: v for k, v in source.options.items() if k not in OPTIONS},
               "report_column": source.options["report_column"]}
    manifest = folder / MANIFEST
    seed = int(json.loads(manifest.read_text(encoding="utf-8")).get("seed", 0)) if manifest.is_file() else 0
    for study in csv_table.read(Source("csv", table, source.image_root, options), log):
        truth = study.meta.get("truth")
        if study.report and "findings" not in study.sections:
            study.sections["findings"] = study.report
        if truth and study.id.startswith("syn") and "impression" not in study.sections:
            study.sections["impression"] = impression_of(study.id, truth, seed)
        yield study
