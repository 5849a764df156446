"""The offline demo (the README's main job): synthetic CXRs -> one shared encoder pre-training -> compare.

Nothing is downloaded. The three demo recipes (tiny LLaVA-Rad, CXR-LLaVA and SLaVA-CXR designs) are
compared with two reference rows, a constant normal report and nearest-neighbour retrieval. A frozen random
encoder sees little, so the tiny ViT is first pre-trained once on the synthetic set's CheXpert labels (as
CXR-LLaVA pre-trains its encoder) and every recipe starts from those weights.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from radzoo import cpu_kernels
from radzoo.comparison.leaderboard import LeaderboardRow
from radzoo.comparison.pipeline import ComparisonResult, compare
from radzoo.data.synthetic import ensure_generated
from radzoo.errors import InputError, OutputExistsError
from radzoo.recipe.load import load_recipe, recipe_hash
from radzoo.training.encoder_pretraining import label_pretraining_recipe, pretrain_encoder

log = logging.getLogger(__name__)

DEMO_RECIPES = ("demo/llava-rad", "demo/cxr-llava", "demo/slava-cxr")
MULTI_IMAGE_RECIPES = ("demo/llava-rad", "demo/multi-image")  # frontal only vs frontal + lateral + prior
PRETRAINING_RECIPE = "demo/cxr-llava"  # its encoder section is the demo's; its label stage the blueprint
KERNELS_FILE = "kernels.json"  # the CPU code paths the demo ran with (radzoo.cpu_kernels.in_effect)


@dataclass(frozen=True)
class DemoSize:
    """How big the demo is: sized so the tiny models learn within minutes on two CPU cores."""

    studies: int = 3000  # 80/10/10 train/validate/test
    image_size: int = 64
    pretrain_epochs: int = 12
    pretrain_lr: float = 2e-3
    seed: int = 0  # the synthetic set's: every training seed is scored on the same test studies
    # laterals, priors and reports with change sentences (report_vs_prior): the set MULTI_IMAGE_RECIPES compare on
    multi_image: bool = False


def _drop_channel_note(record: logging.LogRecord) -> bool:
    return "declares 3 source channels" not in record.getMessage()


def _quiet_lightning() -> None:
    """Lightning's per-stage notices (devices found, tips, "fit stopped") and the libraries' notes to their own
    users would bury the demo's progress lines."""
    import lightning.pytorch  # noqa: F401  (it sets its logger's level on import: set ours after)

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    for message in (r".*isinstance\(treespec, LeafSpec\).*", r".*is_gradient_checkpointing.*is deprecated.*"):
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)
    # SLaVA's no-repeat rule is meant for the generated report only, which is what transformers notes per batch
    warnings.filterwarnings("ignore", message=r".*no_repeat_ngram_size.*inputs_embeds.*", category=UserWarning)


def _data_overrides(size: DemoSize) -> list[str]:
    multi = ["data.options.multi_image=true", "data.options.report_column=report_vs_prior"] if size.multi_image else []
    return ["data.format=synthetic", "data.path=null", f"data.options.n={size.studies}",
            f"data.options.image_size={size.image_size}", f"data.options.seed={size.seed}", *multi]


def _same_encoder(recipes: Sequence[str], overrides: Sequence[str]) -> None:
    """The shared weights only fit recipes whose encoders are built alike."""
    first, *rest = [(r, load_recipe(r, list(overrides)).encoder) for r in recipes]
    for name, encoder in rest:
        if encoder.name != first[1].name or encoder.args != first[1].args:
            raise InputError(f"{name}: its encoder ({encoder.name}, {dict(encoder.args)}) differs from "
                             f"{first[0]}'s; the demo's shared pre-trained encoder needs the same encoder section")


def verdict(rows: Sequence[LeaderboardRow], headline: str, reference: str = "constant") -> list[str]:
    """One line per learned row: does it beat ``reference`` on the headline with non-overlapping CIs?"""
    ref = next((r.metrics.get(headline) for r in rows if r.name == reference), None)
    if ref is None:
        return []
    lines = []
    for row in rows:
        cell = row.metrics.get(headline)
        if row.kind != "learned" or cell is None:
            continue
        clear = cell.ci_low is not None and ref.ci_high is not None and cell.ci_low > ref.ci_high
        lines.append(f"{row.name}: {cell.value:.3f} vs {reference} {ref.value:.3f} -> "
                     + ("beats it, CIs do not overlap" if clear else "does NOT clearly beat it"))
    return lines


def record_kernels(out_dir: Path, kernels: str) -> dict:
    """Write (or check) ``out_dir/kernels.json``: a demo resumed with other kernels would mix their figures."""
    effect = cpu_kernels.in_effect(kernels)
    if not effect["pinned"] and effect["env"] == cpu_kernels.PORTABLE_ENV:  # pinned too late: pin() warned already
        warnings.warn(cpu_kernels.KernelsNotPinnedWarning(
            f"portable kernels do not cover this CPU (torch's CPU capability {effect['torch_cpu_capability']}, "
            f"numpy {effect['numpy_simd']}; they cover x86-64 CPUs with AVX2): this demo's figures may differ "
            "from the README's"), stacklevel=3)
    path = out_dir / KERNELS_FILE
    if path.is_file():
        before = json.loads(path.read_text(encoding="utf-8")).get("kernels")
        if before != kernels:
            raise OutputExistsError(f"--out {out_dir}: that demo ran with --kernels {before}; resuming it with "
                                    f"--kernels {kernels} would mix their figures: choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(effect, indent=1) + "\n", encoding="utf-8")
    return effect


def run_demo(out_dir: str | Path = "radzoo-demo", *, size: DemoSize = DemoSize(), overrides: Sequence[str] = (),
             recipes: Sequence[str] = DEMO_RECIPES, threads: int | None = 1,
             bootstrap: int | None = None, seed: int = 0, kernels: str = cpu_kernels.DEFAULT_KERNELS
             ) -> ComparisonResult:
    """Generate the synthetic set, pre-train the shared encoder, compare ``recipes`` plus the reference rows.

    ``threads``: torch CPU threads (tiny models gain little from more, and an oversubscribed core slows them
    several-fold); None leaves torch's default. ``seed``: the training seed (``trainer.seed`` of the encoder
    pre-training and of every recipe: initial weights, batch order); the data set stays ``size.seed``'s, so
    seeds compare on the same test studies. ``kernels``: ``portable`` (the same figures on any x86-64 CPU with
    AVX2; pinned only if torch and numpy load after this call, else a KernelsNotPinnedWarning) or ``native``
    (radzoo.cpu_kernels). Rerunning with the same ``out_dir`` resumes and reuses.
    """
    cpu_kernels.pin(kernels)
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    record_kernels(Path(out_dir), kernels)
    with cpu_kernels.scope(kernels):
        return _run(Path(out_dir), size, overrides, recipes, bootstrap, seed)


def _run(out_dir: Path, size: DemoSize, overrides: Sequence[str], recipes: Sequence[str], bootstrap: int | None,
         seed: int) -> ComparisonResult:
    # the demo's 1-channel ViT loads weights saved from a 1-channel ViT; timm notes its RGB default nonetheless
    logging.getLogger("timm.models._builder").addFilter(_drop_channel_note)  # added once however often called
    _quiet_lightning()
    began = time.perf_counter()
    log.info(f"[demo 1/3] synthetic CXR set: {size.studies} studies at {size.image_size} px (generated once, cached)")
    data_dir = ensure_generated(size.studies, size.seed, size.image_size, size.multi_image)
    log.info(f"           {data_dir} ({time.perf_counter() - began:.0f} s)")
    shared = [*_data_overrides(size), f"trainer.seed={seed}", *overrides]
    _same_encoder(recipes, shared)
    cfg = label_pretraining_recipe(PRETRAINING_RECIPE, shared, epochs=size.pretrain_epochs, lr=size.pretrain_lr)
    log.info(f"[demo 2/3] shared encoder pre-training on the CheXpert labels ({time.perf_counter() - began:.0f} s)")
    encoder = pretrain_encoder(cfg, out_dir / "encoder-pretraining" / f"{cfg.name}-{recipe_hash(cfg)}")
    log.info(f"[demo 3/3] comparing {', '.join(recipes)} + constant and nearest-neighbour rows "
             f"({time.perf_counter() - began:.0f} s)")
    result = compare(list(recipes), out_dir, overrides=[*shared, f"encoder.args.path={encoder.resolve()}"],
                     bootstrap=bootstrap)
    log.info(f"demo finished in {time.perf_counter() - began:.0f} s")
    return result
