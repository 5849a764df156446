"""`radzoo export` merges LoRA into the LM; generating from the export equals generating from the run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from radzoo import build_model, load_recipe
from radzoo.data.study import Study
from radzoo.files.jsonl import read_records
from radzoo.generation.pipeline import generate
from radzoo.plugins.llms.tiny import build_tiny_llm
from radzoo.runs.store import save_run


def _studies(folder, n=4):
    rng = np.random.default_rng(1)
    folder.mkdir()
    out = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray((rng.random((70, 66)) * 255).astype("uint8")).save(path)
        out.append(Study(id=f"e{i}", image=str(path), indication="cough" * i or None))
    return out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A demo LLaVA-Rad run whose adapter and LoRA weights are non-zero, as after training."""
    run_dir = tmp_path_factory.mktemp("run")
    recipe = load_recipe("demo/llava-rad", ["generation.max_new_tokens=16"])
    model = build_model(recipe)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        for _, p in model.named_parameters():
            if p.requires_grad:
                p.data.normal_(0, 0.05)
    save_run(model, recipe, run_dir)
    return run_dir


def test_export_generates_the_same_greedy_reports(trained_run, tmp_path):
    from radzoo.cli import main

    studies = _studies(tmp_path / "img")
    out = tmp_path / "export"
    assert main(["export", str(trained_run), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"llm", "model.safetensors", "recipe.yaml", "export.json"}
    assert (out / "llm" / "config.json").is_file() and (out / "llm" / "tokenizer.json").is_file()
    merged = load_file(str(out / "llm" / "model.safetensors"))
    assert not any("lora_" in k for k in merged)
    assert any(k.startswith("adapter.") for k in load_file(str(out / "model.safetensors")))
    base = build_tiny_llm("llama").model  # the demo recipe's LM before LoRA
    q_key = next(k for k in merged if k.endswith("q_proj.weight"))
    assert not torch.equal(merged[q_key], base.state_dict()[q_key]), "LoRA was not merged into the weights"

    generate(trained_run, out=tmp_path / "run.jsonl", studies=studies, batch_size=3)
    generate(out, out=tmp_path / "export.jsonl", studies=studies, batch_size=4)
    from_run = [r["prediction"] for r in read_records(tmp_path / "run.jsonl")]
    assert from_run == [r["prediction"] for r in read_records(tmp_path / "export.jsonl")]
    untrained = tmp_path / "untrained.jsonl"
    generate("demo/llava-rad", out=untrained, studies=studies, overrides=["generation.max_new_tokens=16"])
    assert from_run != [r["prediction"] for r in read_records(untrained)]


def test_export_refuses_a_non_empty_directory(trained_run, tmp_path):
    from radzoo.interop.radzoo_export import export_run

    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="exists and is not an empty directory"):
        export_run(trained_run, tmp_path)
