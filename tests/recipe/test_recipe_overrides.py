"""Override keys as the README and the issue tracker use them: stages by name, caps, mappings, bundled bases."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from radzoo.cli import main
from radzoo.recipe.load import RecipeError, load_recipe
from radzoo.training.stages import build_optimizer, stage_steps


def test_a_stage_is_addressed_by_name_or_position():
    cfg = load_recipe("demo/llava-rad", ["stages.finetune.max_steps=5", "stages.0.lr=0.5", "stages.-1.batch_size=3"])
    assert [s.max_steps for s in cfg.stages] == [40, 5]
    assert cfg.stages[0].lr == 0.5 and cfg.stages[1].batch_size == 3


@pytest.mark.parametrize(("override", "expected"), [
    ("stages.2.max_steps=5", "stage 2 does not exist, the recipe has 2 stages (0: align, 1: finetune)"),
    ("stages.finetun.max_steps=5", "no stage named 'finetun', the recipe has 2 stages (0: align, 1: finetune). "
                                   "Did you mean 'finetune'?"),
])
def test_a_missing_stage_names_the_stages_the_recipe_has(override, expected):
    with pytest.raises(RecipeError, match=expected.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_recipe("demo/llava-rad", [override])


def test_a_typo_gets_one_did_you_mean():
    for override in ("trainer.precison=32", "llm.lora.rr=3"):
        with pytest.raises(RecipeError) as info:
            load_recipe("demo/llava-rad", [override])
        assert str(info.value).count("Did you mean") == 1, str(info.value)
        assert "?." not in str(info.value)


def test_a_typed_node_takes_a_mapping_from_its_defaults():
    cfg = load_recipe("llava-rad", ["llm.lora={r: 4, alpha: 8}"])
    assert (cfg.llm.lora.r, cfg.llm.lora.alpha, cfg.llm.lora.dropout) == (4, 8, 0.05)
    cfg = load_recipe("demo/llava-rad", ["~llm.lora", "llm.lora={r: 2}"])  # from no LoRA at all
    assert (cfg.llm.lora.r, cfg.llm.lora.alpha) == (2, 128)
    with pytest.raises(RecipeError, match="rank"):
        load_recipe("demo/llava-rad", ["llm.lora={rank: 4}"])


def test_max_steps_per_stage_caps_every_stage():
    stage = SimpleNamespace(max_steps=None, epochs=3)
    assert stage_steps(stage, batches_per_epoch=10, accumulate=1) == 30
    assert stage_steps(stage, batches_per_epoch=10, accumulate=1, cap=4) == 4
    assert stage_steps(SimpleNamespace(max_steps=2, epochs=None), 10, 1, cap=4) == 2
    assert load_recipe("demo/slava-cxr", ["trainer.max_steps_per_stage=2"]).trainer.max_steps_per_stage == 2


def test_a_user_recipe_extends_a_bundled_recipe_by_name(tmp_path: Path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("extends: [demo/llava-rad]\nname: mine\nstages: [{name: only, max_steps: 3}]\n")
    cfg = load_recipe(recipe)
    assert cfg.name == "mine" and cfg.encoder.name == "tiny-vit" and [s.name for s in cfg.stages] == ["only"]
    recipe.write_text("extends: [llava-rad-typo]\nname: mine\n")
    with pytest.raises(RecipeError, match="no bundled recipe has that name"):
        load_recipe(recipe)


def test_optimizer_choice(monkeypatch):
    model = torch.nn.Linear(3, 2)
    stage = SimpleNamespace(weight_decay=0.0, lr=1e-3, scheduler="constant", warmup_ratio=0.0)
    optimizer, _ = build_optimizer(model, stage, 10)
    assert type(optimizer) is torch.optim.AdamW and not optimizer.defaults.get("fused")
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as on a machine without it
    with pytest.raises(ValueError, match="pip install bitsandbytes"):
        build_optimizer(model, stage, 10, "adamw-8bit")
    with pytest.raises(RecipeError, match="Allowed values: adamw, adamw-fused, adamw-8bit"):
        load_recipe("demo/llava-rad", ["trainer.optimizer=sgd"])


def test_gradient_clipping_reaches_the_trainer(tmp_path: Path, tiny_llava_rad):
    from radzoo.training.trainer import build_trainer

    cfg = load_recipe("demo/llava-rad", ["trainer.gradient_clip_val=0.5", "trainer.loggers=[]"])
    trainer = build_trainer(cfg, tiny_llava_rad, cfg.stages[0], tmp_path, "v")
    assert trainer.gradient_clip_val == 0.5


def test_recipe_list_shows_description_and_paper(capsys):
    assert main(["recipe", "list"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("llava-rad "))
    assert "[arXiv:2403.08002]" in line and "Vicuna-7B" in line
    assert "mlp2x_gelu" in next(line for line in out.splitlines() if line.startswith("demo/llava-rad "))


def test_the_wandb_logger_without_wandb_says_which_extra(tmp_path: Path, tiny_llava_rad, monkeypatch):
    import importlib.util

    from radzoo.training.trainer import build_trainer

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    cfg = load_recipe("demo/llava-rad", ["trainer.loggers=[csv, wandb]"])
    with pytest.raises(ValueError, match=r"pip install 'radzoo\[wandb\]'"):
        build_trainer(cfg, tiny_llava_rad, cfg.stages[0], tmp_path, "v")
