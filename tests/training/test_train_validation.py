"""Validation loss during training: logged every N steps, best weights kept on request, early stopping."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from test_train_run import QUIET, make_studies, steps

from radzoo.files.weight_files import load_weights
from radzoo.training.pipeline import train

pytestmark = pytest.mark.slow  # trains

# constant LR, no warmup: a run cut at step k has the same weights as a longer run at its step k
FLAT = [f"stages.{i}.{key}" for i in (0, 1) for key in ("scheduler=constant", "warmup_ratio=0")]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    studies = make_studies(tmp_path_factory.mktemp("images"), 12)
    return studies[:8], [replace(s, split="validate") for s in studies[8:]]


def test_validation_keeps_the_best_weights(data, tmp_path: Path) -> None:
    train_set, validate_set = data
    overrides = QUIET + FLAT + steps(2, 4) + ["stages.finetune.lr=0.2", "trainer.val_every_n_steps=1",
                                              "trainer.keep_best=true"]
    result = train("demo/llava-rad", tmp_path / "best", overrides=overrides, studies=train_set,
                   validation_studies=validate_set)
    finetune = result.stages[1]
    assert [step for step, _ in finetune.validation] == [1, 2, 3, 4]
    losses = [loss for _, loss in finetune.validation]
    assert finetune.best_step == 1 + losses.index(min(losses)) < 4  # (lr 0.2 overshoots: the best is not the last)
    summary = json.loads((tmp_path / "best" / "train_summary.json").read_text())
    assert summary["stages"][1]["best_step"] == finetune.best_step
    # the saved weights are those of the best step: the same as a run that stopped there
    cut = train("demo/llava-rad", tmp_path / "cut", overrides=QUIET + FLAT + steps(2, finetune.best_step)
                + ["stages.finetune.lr=0.2"], studies=train_set)
    assert cut.stages[1].steps == finetune.best_step
    kept, stopped_there = load_weights(tmp_path / "best" / "model.safetensors"), load_weights(
        tmp_path / "cut" / "model.safetensors")
    assert kept.keys() == stopped_there.keys()
    for key in kept:
        torch.testing.assert_close(kept[key], stopped_there[key], msg=key)


def test_early_stopping_ends_a_stage_and_the_run_goes_on(data, tmp_path: Path) -> None:
    train_set, validate_set = data
    overrides = QUIET + steps(2, 12) + ["stages.finetune.lr=50", "trainer.val_every_n_steps=1",
                                        "trainer.early_stopping_patience=1"]
    result = train("demo/llava-rad", tmp_path / "run", overrides=overrides, studies=train_set,
                   validation_studies=validate_set)
    finetune = result.stages[1]
    assert finetune.steps < 12 and not result.stopped_early
    losses = [loss for _, loss in finetune.validation]
    assert losses[-1] >= min(losses[:-1])  # it stopped on a validation that did not improve
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_validation_without_a_validate_split_is_refused(data, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="val_every_n_steps.*no validate split"):
        train("demo/llava-rad", tmp_path / "run", overrides=QUIET + ["trainer.val_every_n_steps=2"],
              studies=data[0])
