"""`radzoo train RECIPE --init RUN`: continued fine-tuning from a run's weights, refused when parts differ."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from radzoo import build_model, load_recipe
from radzoo.data.study import Study
from radzoo.files.jsonl import read_records
from radzoo.generation.pipeline import generate
from radzoo.runs.store import save_run

pytestmark = pytest.mark.slow  # trains

QUICK = ["trainer.progress_bar=false", "generation.max_new_tokens=12", "stages.0.max_steps=1",
         "stages.1.max_steps=1", "stages.0.batch_size=4", "stages.1.batch_size=4"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from radzoo.data.synthetic import generate as synthetic

    return synthetic(tmp_path_factory.mktemp("synthetic"), 12, image_size=64)


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A demo LLaVA-Rad run whose adapter and LoRA weights are non-zero, as after training."""
    run_dir = tmp_path_factory.mktemp("earlier")
    recipe = load_recipe("demo/llava-rad", QUICK)
    model = build_model(recipe)
    generator = torch.Generator().manual_seed(5)
    for _, p in model.named_parameters():
        if p.requires_grad:
            p.data = torch.randn(p.shape, generator=generator) * 0.05
    return save_run(model, recipe, run_dir)


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(2)
    out = []
    for i in range(3):
        Image.fromarray((rng.random((64, 64)) * 255).astype("uint8")).save(folder / f"{i}.png")
        out.append(Study(id=f"t{i}", image=str(folder / f"{i}.png")))
    return out


def _reports(source, studies, path):
    generate(source, out=path, studies=studies, overrides=["generation.max_new_tokens=12"])
    return [r["prediction"] for r in read_records(path)]


def test_training_starts_from_the_runs_weights(data, earlier_run, studies, tmp_path):
    from radzoo.cli import main

    out = tmp_path / "continued"
    # a zero learning rate: the continued run must be exactly the earlier one (its LoRA merged, a fresh LoRA at 0)
    command = ["train", "demo/llava-rad", *QUICK, f"data.path={data}", "stages.0.lr=0.0", "stages.1.lr=0.0",
               "--out", str(out)]
    assert main([*command, "--init", str(earlier_run), "--stop-after-steps", "1"]) == 0
    assert json.loads((out / "init.json").read_text())["init"] == str(earlier_run.resolve())
    assert main([*command, "--resume"]) == 0  # the resumed run starts from the recorded --init run again
    stored = load_file(str(out / "model.safetensors"))
    assert any(k.endswith("q_proj.base_layer.weight") for k in stored), "the merged LM weights must be stored"
    earlier = _reports(earlier_run, studies, tmp_path / "earlier.jsonl")
    assert _reports(out, studies, tmp_path / "continued.jsonl") == earlier
    assert _reports("demo/llava-rad", studies, tmp_path / "untrained.jsonl") != earlier


@pytest.mark.parametrize(("recipe", "overrides", "expected"), [
    ("demo/cxr-llava", [], "the recipe's adapter is 'linear' but the run's is 'mlp2x_gelu'"),
    ("demo/llava-rad", ["encoder.args.embed_dim=64"],
     "weight 'encoder.model.cls_token' is [1, 1, 128] in the run but [1, 1, 64]"),
])
def test_a_recipe_with_other_parts_is_one_line(data, earlier_run, tmp_path, capsys, recipe, overrides, expected):
    from radzoo.cli import main

    out = tmp_path / "continued"
    assert main(["train", recipe, *QUICK, *overrides, f"data.path={data}", "--init", str(earlier_run),
                 "--out", str(out)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("radzoo train: error:")]
    assert len(errors) == 1 and f"--init {earlier_run.resolve()}" in errors[0] and expected in errors[0]
    assert not (out / "model.safetensors").exists()
