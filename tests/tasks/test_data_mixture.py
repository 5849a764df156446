"""Data mixtures: sources drawn by weight in a deterministic order that a resumed run repeats exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radzoo.data.readers import read_studies
from radzoo.errors import InputError
from radzoo.recipe.load import load_recipe
from radzoo.training.mixture_sampler import MixtureBatchSampler, group_quotas

QUIET = ["trainer.accelerator=cpu", "trainer.progress_bar=false", "trainer.loggers=[csv]",
         "trainer.checkpoint_every_n_steps=1"]


def test_sampler_is_weighted_and_resumes_in_the_same_order() -> None:
    groups = [0] * 30 + [1] * 10
    full = list(MixtureBatchSampler(groups, [1.0, 3.0], 4, 25, seed=3))
    assert list(MixtureBatchSampler(groups, [1.0, 3.0], 4, 25, seed=3, start=11)) == full[11:]
    assert full != list(MixtureBatchSampler(groups, [1.0, 3.0], 4, 25, seed=4))
    drawn = [groups[i] for batch in full[:10] for i in batch]  # the first epoch: 10 batches of 4
    assert drawn.count(1) == 30 and drawn.count(0) == 10  # weight 3:1, however many examples each source has
    sampler = MixtureBatchSampler(groups, [1.0, 3.0], 4, 25, seed=3)
    assert sampler.group_counts(25) == {0: sum(groups[i] == 0 for b in full for i in b),
                                        1: sum(groups[i] == 1 for b in full for i in b)}
    assert group_quotas([0.7, 0.3], 10) == [7, 3] and group_quotas([1, 1, 1], 10) == [4, 3, 3]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, Path]:
    from radzoo.data.synthetic import generate

    root = tmp_path_factory.mktemp("sources")
    return generate(root / "a", 20, seed=1, image_size=64), generate(root / "b", 10, seed=2, image_size=64)


def mixture_recipe(folder: Path, a: Path, b: Path) -> Path:
    path = folder / "mix.yaml"
    path.write_text("extends: [demo/llava-rad]\n"
                    f"data:\n  - {{name: big, format: synthetic, path: {a}, weight: 0.25}}\n"
                    f"  - {{name: small, format: synthetic, path: {b}, weight: 0.75, evaluate: true}}\n")
    return path


def test_the_evaluation_split_comes_from_the_named_source(sources, tmp_path: Path) -> None:
    cfg = load_recipe(mixture_recipe(tmp_path, *sources))
    assert cfg.data.format == "mixture" and cfg.data.options.eval_source == "small"
    train = read_studies(cfg.data, split="train").studies
    test = read_studies(cfg.data, split="test").studies
    assert {s.meta["mixture_source"] for s in train} == {"big", "small"}
    assert {s.meta["mixture_source"] for s in test} == {"small"} and len(test) == 1
    with pytest.raises(InputError, match="eval_source 'nope' names no source"):
        read_studies({**cfg.data, "options": {**cfg.data.options, "eval_source": "nope"}}, split="test")


@pytest.mark.slow
def test_two_source_mixture_trains_and_resumes_in_order(sources, tmp_path: Path) -> None:
    from radzoo.training.pipeline import train

    recipe = mixture_recipe(tmp_path, *sources)
    overrides = QUIET + ["stages.0.max_steps=2", "stages.0.batch_size=4", "stages.1.max_steps=4",
                         "stages.1.batch_size=4"]
    whole = tmp_path / "whole"
    train(recipe, whole, overrides=overrides)
    parts = tmp_path / "parts"
    train(recipe, parts, overrides=overrides, stop_after_steps=3)
    train(recipe, parts, resume=True, overrides=overrides)
    summaries = [json.loads((run / "train_summary.json").read_text()) for run in (whole, parts)]
    counts = [[s["examples_by_group"] for s in summary["stages"]] for summary in summaries]
    assert counts[0] == counts[1]
    assert [sum(c.values()) for c in counts[0]] == [2 * 4, 4 * 4]  # every example drawn is counted
    # a 24-example epoch (16 + 8 train studies) holds 6 of big and 18 of small: weight 0.25 to 0.75
    assert sum(c["small"] for c in counts[0]) > 2 * sum(c["big"] for c in counts[0])
    # the same batches in the same order: the resumed run's losses are the uninterrupted run's
    for stage in ("align", "finetune"):
        assert summaries[1]["losses"][stage] == pytest.approx(summaries[0]["losses"][stage], rel=1e-5)
