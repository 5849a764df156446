"""The synthetic CXR set: deterministic chest-radiograph-like images with findings, reports and labels.

``generate(out_dir, n)`` writes ``images/*.png``, ``reports.csv`` (the ``csv`` reader's default columns:
id, image, report, indication, split, labels_json) and ``llava.json`` (LLaVA-Rad-style records), so a
synthetic run goes through the same readers as real data. Study i depends only on (seed, i, image size).
``multi_image=True`` adds, from random streams of their own (the frontal images, reports, labels and splits stay
byte-identical), a lateral view for about 80% of the studies and a prior study for about half the patients
(columns image_lateral, prior_image, prior_report) and ``report_vs_prior``: the report followed by change
sentences ("The pleural effusion is new. Cardiomegaly is unchanged.").
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from radzoo.cpu_kernels import numpy_simd
from radzoo.data.synthetic.anatomy import Anatomy, render_normal, to_pixels
from radzoo.data.synthetic.findings import draw_findings, sample_truth
from radzoo.data.synthetic.lateral import render_lateral
from radzoo.data.synthetic.priors import change_sentences, draw_prior
from radzoo.data.synthetic.reports import chexpert_labels, write_indication, write_report
from radzoo.errors import InputError
from radzoo.files.atomic import process_umask
from radzoo.files.cache import cache_root  # re-exported: plugins take it from here (the support surface)

__all__ = ["GENERATOR_VERSION", "SyntheticStudy", "cache_root", "default_dir", "ensure_generated", "generate",
           "render_study", "render_truth"]

GENERATOR_VERSION = 2  # bump when images or reports change, so cached sets are rebuilt
MANIFEST = "synthetic.json"
LATERAL_PROBABILITY = 0.8
PROMPT = "<image>\nProvide a description of the findings in the radiology image."
PROMPT_WITH_INDICATION = ("<image>\nProvide a description of the findings in the radiology image given the "
                          "following indication: {indication}")


@dataclass
class SyntheticStudy:
    """One generated study: 8-bit grayscale pixels and what they show."""

    id: str
    pixels: np.ndarray
    truth: dict[str, Any]
    labels: dict[str, float]
    report: str
    indication: str | None
    split: str


def split_of(index: int) -> str:
    """80/10/10 train/validate/test, fixed by the index."""
    return {8: "validate", 9: "test"}.get(index % 10, "train")


def render_study(index: int, seed: int = 0, image_size: int = 128) -> SyntheticStudy:
    """Study ``index`` of the set with ``seed``."""
    if image_size < 32:
        raise InputError(f"image_size {image_size} is too small to draw a chest; use 32 px or more")
    rng = np.random.default_rng([seed, index, 20260])
    truth = sample_truth(rng)
    pixels = render_truth(truth, rng, image_size)
    text_rng = np.random.default_rng([seed, index, 7])  # phrasing independent of drawing details
    return SyntheticStudy(id=f"syn{index:06d}", pixels=pixels, truth=truth,
                          labels=chexpert_labels(truth), report=write_report(truth, text_rng),
                          indication=write_indication(truth, text_rng), split=split_of(index))


def render_truth(truth: dict[str, Any], rng: np.random.Generator, image_size: int = 128) -> np.ndarray:
    """8-bit pixels of a random chest (from ``rng``) showing exactly the findings of ``truth``."""
    anatomy = Anatomy.sample(rng, truth["ctr"])
    density, masks = render_normal(anatomy, image_size, rng)
    return to_pixels(draw_findings(density, anatomy, masks, truth, rng), anatomy, rng)


def multi_image_columns(s: SyntheticStudy, index: int, seed: int, image_size: int, out: Path) -> dict[str, str]:
    """Study ``index``'s lateral view, prior study and report-with-changes columns (images written to ``out``)."""
    columns = {"image_lateral": "", "prior_image": "", "prior_report": "", "report_vs_prior": s.report}
    if np.random.default_rng([seed, index, 50]).random() < LATERAL_PROBABILITY:
        columns["image_lateral"] = f"images/{s.id}_lateral.png"
        lateral = render_lateral(s.truth, np.random.default_rng([seed, index, 51]), image_size)
        Image.fromarray(lateral, mode="L").save(out / columns["image_lateral"], optimize=False)
    drawn = draw_prior(s.truth, np.random.default_rng([seed, index, 52]))
    if drawn is not None:
        prior, changes = drawn
        columns["prior_image"] = f"images/{s.id}_prior.png"
        pixels = render_truth(prior, np.random.default_rng([seed, index, 53]), image_size)
        Image.fromarray(pixels, mode="L").save(out / columns["prior_image"], optimize=False)
        columns["prior_report"] = write_report(prior, np.random.default_rng([seed, index, 54]))
        columns["report_vs_prior"] = f"{s.report} {change_sentences(changes)}".strip()
    return columns


def generate(out_dir: str | Path, n: int, seed: int = 0, image_size: int = 128, multi_image: bool = False) -> Path:
    """Write ``n`` studies to ``out_dir`` (images/, reports.csv, llava.json, synthetic.json); returns out_dir."""
    if n < 1:
        raise InputError(f"n must be at least 1, got {n}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, records, counts = [], [], Counter()
    for i in range(n):
        s = render_study(i, seed, image_size)
        image = f"images/{s.id}.png"
        Image.fromarray(s.pixels, mode="L").save(out / image, optimize=False)
        labels_json = json.dumps({"chexpert": s.labels, "truth": s.truth}, sort_keys=True)
        rows.append({"id": s.id, "image": image, "report": s.report, "indication": s.indication or "",
                     "split": s.split, "labels_json": labels_json,
                     **(multi_image_columns(s, i, seed, image_size, out) if multi_image else {})})
        prompt = PROMPT_WITH_INDICATION.format(indication=s.indication) if s.indication else PROMPT
        records.append({"id": s.id, "image": image, "split": s.split, "reason": s.indication,
                        "chexpert_labels": s.labels, "truth": s.truth,
                        "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": s.report}]})
        counts.update(k for k, v in s.labels.items() if v != 0)
    with open(out / "reports.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "llava.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
    manifest = {"generator_version": GENERATOR_VERSION, "n": n, "seed": seed, "image_size": image_size,
                "splits": dict(Counter(r["split"] for r in rows)), "label_counts": dict(sorted(counts.items())),
                **({"multi_image": True} if multi_image else {})}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return out


def default_dir(n: int, seed: int, image_size: int, multi_image: bool = False) -> Path:
    """The cache folder of the set with these parameters, made with numpy's SIMD level of this process: float32
    maths rounds differently with AVX-512 than with AVX2 (radzoo.cpu_kernels), so each level has its own set."""
    simd = re.sub(r"[^a-z0-9]+", "_", numpy_simd().lower()).strip("_")
    multi = "-multi" * multi_image
    return cache_root() / f"synthetic-v{GENERATOR_VERSION}-n{n}-seed{seed}-px{image_size}{multi}-{simd}"


def ensure_generated(n: int = 1000, seed: int = 0, image_size: int = 128, multi_image: bool = False) -> Path:
    """The cached set with these parameters, generated on first use (atomically, so parallel runs are safe)."""
    target = default_dir(n, seed, image_size, multi_image)
    if (target / MANIFEST).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    staging.chmod(0o777 & ~process_umask())  # mkdtemp makes it owner-only; the cache is as shareable as any folder
    try:
        generate(staging, n, seed, image_size, multi_image)
        try:
            staging.rename(target)
        except OSError:  # another process finished first: use its copy
            if not (target / MANIFEST).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
