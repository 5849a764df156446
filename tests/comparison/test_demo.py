"""radzoo demo, shrunk: one shared encoder pre-training feeds every demo recipe; reruns reuse it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from radzoo.cli import main
from radzoo.comparison.demo import DEMO_RECIPES, DemoSize, run_demo, verdict
from radzoo.comparison.leaderboard import LeaderboardRow, MetricCell
from radzoo.recipe.load import load_recipe, recipe_hash

pytestmark = pytest.mark.slow  # runs the demo's comparison

TINY = ["trainer.progress_bar=false", "generation.max_new_tokens=8", "stages.0.max_steps=2", "stages.1.max_steps=2"]


def test_tiny_demo_shares_one_encoder_pre_training(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RADZOO_CACHE", str(tmp_path / "cache"))  # the synthetic set is generated here
    size = DemoSize(studies=60, pretrain_epochs=1)
    result = run_demo(tmp_path / "demo", size=size, overrides=TINY, threads=None, bootstrap=20, kernels="native")
    assert {r.name for r in result.rows if r.kind == "baseline"} == {"constant", "nearest-neighbour"}
    assert len([r for r in result.rows if r.kind == "learned"]) == len(DEMO_RECIPES)
    (encoder,) = (tmp_path / "demo" / "encoder-pretraining").glob("*/encoder.safetensors")
    recipes = [(d / "recipe.yaml").read_text() for d in (tmp_path / "demo" / "runs").iterdir()]
    assert len(recipes) == 3 and all(f"path: {encoder.resolve()}" in r for r in recipes)
    notes = {r.name: r.encoder_trained_on for r in result.rows}
    assert notes["demo-llava-rad"].startswith("synthetic CXR labels (")
    assert notes["demo-cxr-llava"].endswith("+ its own label stage")
    assert (tmp_path / "cache").is_dir() and json.loads((tmp_path / "demo" / "leaderboard.json").read_text())["rows"]
    page = (tmp_path / "demo" / "viewer" / "index.html").read_text(encoding="utf-8")  # the demo writes the viewer
    assert result.files["viewer"] == tmp_path / "demo" / "viewer" / "index.html" and all(r.name in page
                                                                                        for r in result.rows)

    def no_training(*args, **kwargs):
        raise AssertionError("a rerun trained again instead of reusing the encoder and the runs")

    def tiny_demo(out, size, threads, recipes, seed, kernels):  # `radzoo demo` at the tiny size of the run above
        assert seed == 0 and kernels == "portable"  # the defaults: the README table's seed and kernels
        return run_demo(out, size=DemoSize(studies=60, pretrain_epochs=1), overrides=TINY, threads=threads,
                        recipes=recipes, bootstrap=20, seed=seed, kernels="native")  # pytest loaded torch already

    monkeypatch.setattr(importlib.import_module("radzoo.training.pipeline"), "train", no_training)
    monkeypatch.setattr(importlib.import_module("radzoo.comparison.demo"), "run_demo", tiny_demo)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--threads", "0"]) == 0
    text = capsys.readouterr().out
    for row in result.rows:
        assert row.name in text
    assert "leaderboard.md" in text and text.count("vs constant") == len(DEMO_RECIPES)


def test_the_seed_changes_training_not_the_data(tmp_path: Path, monkeypatch) -> None:
    """--seed N reseeds the encoder pre-training and every recipe (same test studies); the default changes no run."""
    monkeypatch.setenv("RADZOO_CACHE", str(tmp_path / "cache"))
    demo = importlib.import_module("radzoo.comparison.demo")
    seen = []

    def pretrain(cfg, out_dir):
        seen.append(("pretrain", cfg, Path(out_dir)))
        return tmp_path / "encoder.safetensors"

    def compare(recipes, out_dir, overrides, bootstrap):
        seen.append(("compare", [load_recipe(r, list(overrides)) for r in recipes], None))

    monkeypatch.setattr(demo, "pretrain_encoder", pretrain)
    monkeypatch.setattr(demo, "compare", compare)
    size = DemoSize(studies=20)
    for seed in (0, 3):
        run_demo(tmp_path / f"demo-{seed}", size=size, threads=None, seed=seed, kernels="native")
    (_, cfg0, dir0), (_, runs0, _), (_, cfg3, dir3), (_, runs3, _) = seen
    assert [cfg0.trainer.seed, cfg3.trainer.seed] == [0, 3]
    assert [r.trainer.seed for r in runs0] == [0, 0, 0] and [r.trainer.seed for r in runs3] == [3, 3, 3]
    assert dir0.name != dir3.name  # a seed's encoder pre-training is its own run
    data = [(r.data.options.seed, r.data.options.n) for r in runs0 + runs3] + [(cfg3.data.options.seed, 20)]
    assert set(data) == {(0, 20)}  # one synthetic set for every training seed
    assert len(list((tmp_path / "cache").glob("synthetic-*"))) == 1
    plain = demo._data_overrides(size) + [f"encoder.args.path={(tmp_path / 'encoder.safetensors').resolve()}"]
    assert [recipe_hash(r) for r in runs0] == [recipe_hash(load_recipe(r, plain)) for r in DEMO_RECIPES]

    captured = []

    def cli_demo(out, size, threads, recipes, seed, kernels):  # `radzoo demo --seed 7` hands its seed on
        captured.append((seed, kernels))
        return SimpleNamespace(rows=[], headline="chexpert_micro_f1_14", files={"md": "leaderboard.md"})

    monkeypatch.setattr(demo, "run_demo", cli_demo)
    monkeypatch.setattr(importlib.import_module("radzoo.comparison.console"), "print_leaderboard",
                        lambda *args: None)
    assert main(["demo", "--out", str(tmp_path / "cli"), "--seed", "7", "--kernels", "native"]) == 0
    assert captured == [(7, "native")]


def test_verdict_needs_non_overlapping_intervals() -> None:
    def row(name: str, kind: str, value: float, low: float, high: float) -> LeaderboardRow:
        return LeaderboardRow(name, kind, metrics={"f1": MetricCell(value, low, high)})

    rows = [row("clear", "learned", 0.5, 0.45, 0.55), row("close", "learned", 0.3, 0.25, 0.35),
            row("constant", "baseline", 0.25, 0.2, 0.3)]
    lines = verdict(rows, "f1")
    assert lines[0].startswith("clear:") and "beats it" in lines[0]
    assert lines[1].startswith("close:") and "NOT" in lines[1]
    assert verdict(rows[:2], "f1") == []  # no constant row: nothing to say
