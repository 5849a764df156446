"""A multi-image recipe trains: batches mix studies with one to three images (features cached per image, and
without the cache), it can start --init from a frontal-only run of the same parts, and its run generates."""

from __future__ import annotations

import json

import pytest
import torch

from radzoo import build_model, load_recipe
from radzoo.cli import main
from radzoo.data.readers import read_studies
from radzoo.files.jsonl import read_records
from radzoo.runs.store import save_run

QUICK = ["trainer.progress_bar=false", "generation.max_new_tokens=8", "stages.0.max_steps=2", "stages.1.max_steps=2",
         "stages.0.batch_size=4", "stages.1.batch_size=4"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from radzoo.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("multi"), 30, image_size=64, multi_image=True)


@pytest.mark.slow
@pytest.mark.parametrize("cache", ["true", "false"])
def test_multi_image_training_from_a_frontal_only_run(data, tmp_path, cache) -> None:
    studies = read_studies({"format": "synthetic", "path": str(data)}, split="train").studies
    assert {len(s.all_images()) + (s.prior is not None) for s in studies} >= {1, 3}  # the batches vary
    earlier = load_recipe("demo/llava-rad", QUICK)
    model = build_model(earlier)
    generator = torch.Generator().manual_seed(3)
    for _, p in model.named_parameters():
        if p.requires_grad:
            p.data = torch.randn(p.shape, generator=generator) * 0.05
    run = save_run(model, earlier, tmp_path / "frontal-only")
    out = tmp_path / "multi"
    assert main(["train", "demo/multi-image", *QUICK, f"data.path={data}", f"trainer.feature_cache={cache}",
                 "--init", str(run), "--out", str(out)]) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    losses = [loss for stage in summary["losses"].values() for loss in stage]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    preds = tmp_path / "preds.jsonl"
    assert main(["generate", str(out), "--data", str(data), "--format", "synthetic", "--out", str(preds)]) == 0
    records = read_records(preds)
    assert records and all(r["prediction"] is not None for r in records)
    test = {s.id: s for s in read_studies({"format": "synthetic", "path": str(data)}, split="test").studies}
    assert sorted(r["id"] for r in records) == sorted(test)
    for r in records:  # every image of the study: frontal, its lateral, its prior frontal
        study = test[r["id"]]
        assert len(r["images"]) == len(study.all_images()) + (study.prior is not None)
    if cache == "true":
        cached = list((out / "feature_cache").rglob("*.safetensors"))
        assert len(cached) > len(studies)  # laterals and prior images are cached too
