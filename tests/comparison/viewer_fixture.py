"""A small finished comparison for the viewer tests: 20 synthetic test studies, two learned rows whose reports
are written by hand (each study gets another study's reference), the real constant and nearest-neighbour rows;
scored, written and viewed by the real `compare` (only the training and generation of the rows is replaced)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from radzoo.comparison.scoring import SystemOutput
from radzoo.data.study import Study

SHIFTS = {"shifted-by-one": 1, "shifted-by-three": 3}  # learned row -> whose reference each study gets


def _fake_run_recipe(cfg, runs_dir: Path, test: Sequence[Study], log, batch_size=None) -> SystemOutput:
    """A finished run folder (resolved recipe + predictions.jsonl) as run_recipe leaves it, without training."""
    from radzoo.comparison.systems import run_dir_of
    from radzoo.files.atomic import write_text_atomic
    from radzoo.recipe.load import save_recipe
    from radzoo.runs.layout import PREDICTIONS_FILE, RunDir

    run_dir = run_dir_of(cfg, runs_dir)
    save_recipe(cfg, RunDir(run_dir).recipe)
    shift = SHIFTS[str(cfg.name)]
    predictions = {s.id: test[(i + shift) % len(test)].report or "" for i, s in enumerate(test)}
    write_text_atomic(run_dir / PREDICTIONS_FILE, "".join(json.dumps({"id": k, "prediction": v}) + "\n"
                                                          for k, v in predictions.items()))
    efficiency = {"params_total": 1000 * shift, "params_trainable": 100, "image_tokens": 16, "train_time_s": 1.0,
                  "reports_per_s": 10.0 * shift, "peak_memory_mb": 50.0}
    return SystemOutput(str(cfg.name), "learned", predictions, "hand-written reports", "nothing (test)",
                        efficiency, run_dir)


def small_comparison(root: Path, **settings) -> Path:
    """Run the comparison under ``root`` (``settings``: more arguments of ``compare``) and return its folder."""
    import importlib

    from radzoo.comparison.pipeline import compare
    from radzoo.data.synthetic import generate
    from radzoo.recipe.load import load_recipe

    data = generate(root / "synthetic", 200, image_size=64)  # 160 train, 20 validate, 20 test studies
    cfgs = [load_recipe("demo/llava-rad", [f"name={name}", "data.format=synthetic", f"data.path={data}"])
            for name in SHIFTS]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importlib.import_module("radzoo.comparison.pipeline"), "run_recipe", _fake_run_recipe)
        compare(cfgs, root / "out", **{"bootstrap": 50, **settings})
    return root / "out"
