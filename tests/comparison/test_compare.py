"""radzoo compare on a tiny synthetic set: leaderboard content, reuse by recipe hash, resume after a crash."""

from __future__ import annotations

import csv
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from radzoo.comparison.pipeline import compare
from radzoo.recipe.load import load_recipe

TRAIN_MODULE = importlib.import_module("radzoo.training.pipeline")
GENERATE_MODULE = importlib.import_module("radzoo.generation.pipeline")
QUIET = ["trainer.progress_bar=false", "generation.max_new_tokens=8", "generation.batch_size=4"]
STEPS = {"demo/llava-rad": [1, 2], "demo/cxr-llava": [1, 1, 2]}  # optimizer steps per stage


def recipes(data: Path) -> list:
    """The two tiny recipes of every comparison here: few steps, the test's synthetic set."""
    cfgs = []
    for name, steps in STEPS.items():
        per_stage = [o for i, n in enumerate(steps) for o in (f"stages.{i}.max_steps={n}", f"stages.{i}.batch_size=4")]
        cfgs.append(load_recipe(name, [*QUIET, "data.format=synthetic", f"data.path={data}", *per_stage]))
    return cfgs


def run(data: Path, out: Path):
    return compare(recipes(data), out, bootstrap=20)


def metric_table(out: Path) -> list[tuple]:
    """Every row's metrics (value, CI, p vs best): what must not change with resumes and reuse."""
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    return [(r["name"], sorted((m, tuple(c.values())) for m, c in r["metrics"].items())) for r in rows]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from radzoo.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("synthetic"), 40, image_size=64)  # 32 train, 4 test studies


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory) -> Path:
    """An uninterrupted comparison of the two recipes (shared by the tests below; they copy it to change it)."""
    out = tmp_path_factory.mktemp("compare") / "whole"
    run(data, out)
    return out


def test_leaderboard_rows_metrics_and_files(finished: Path) -> None:
    board = json.loads((finished / "leaderboard.json").read_text())
    rows = {r["name"]: r for r in board["rows"]}
    assert set(rows) == {"demo-llava-rad", "demo-cxr-llava", "constant", "nearest-neighbour"}
    assert [r["kind"] for r in board["rows"]] == ["learned", "learned", "baseline", "baseline"]
    headline = board["headline"]
    for group in (board["rows"][:2], board["rows"][2:]):  # each group ranked best-first
        values = [r["metrics"][headline]["value"] for r in group]
        assert values == sorted(values, reverse=True)
    assert headline == "chexpert_micro_f1_14" and headline in board["metrics"]
    assert {"bleu_4", "rouge_l", "cider"} <= set(board["metrics"])
    best = board["best"][headline]
    for row in board["rows"]:
        cell = row["metrics"][headline]
        assert cell["ci_low"] <= cell["value"] <= cell["ci_high"] and cell["higher_is_better"] is True
        assert (cell["p_vs_best"] is None) == (row["name"] == best)
        if row["name"] != best:
            assert 0 < cell["p_vs_best"] <= 1
    for name in ("demo-llava-rad", "demo-cxr-llava"):
        eff = rows[name]["efficiency"]
        assert eff["params_total"] > eff["params_trainable"] > 0 and eff["image_tokens"] == 16
        assert eff["train_time_s"] > 0 and eff["reports_per_s"] > 0 and eff["peak_memory_mb"] > 0
    assert rows["demo-cxr-llava"]["encoder_trained_on"] == "CXR labels (its own label stage)"
    assert rows["demo-llava-rad"]["encoder_trained_on"] == "nothing (random init)"
    assert rows["constant"]["efficiency"]["reports_per_s"] is None  # it generates nothing

    md = (finished / "leaderboard.md").read_text()
    assert f"{headline} ↑" in md and f"p vs best ({headline})" in md and "**" in md and "trainable" in md
    assert "4 test-split studies" in md
    with open(finished / "leaderboard.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["system"] for r in table] == [r["name"] for r in board["rows"]]
    assert sum(r[f"{headline}_is_best"] == "True" for r in table) == 1
    for png in ("metrics.png", "quality_vs_speed.png"):
        assert (finished / png).read_bytes()[:4] == b"\x89PNG"

    run_dirs = sorted((finished / "runs").iterdir())
    assert [d.name.rsplit("-", 1)[0] for d in run_dirs] == ["demo-cxr-llava", "demo-llava-rad"]
    for run_dir in run_dirs:
        for name in ("recipe.yaml", "model.safetensors", "predictions.jsonl", "metrics.json", "efficiency.json"):
            assert (run_dir / name).is_file(), run_dir / name
        assert (run_dir / "checkpoints").is_dir()
        predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
        assert len(predictions) == 4
        assert json.loads((run_dir / "metrics.json").read_text())["n"] == 4
    for name in ("constant", "nearest-neighbour"):
        assert (finished / "baselines" / name / "predictions.jsonl").is_file()


def test_finished_runs_are_reused_by_recipe_hash(data, finished: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "again"
    shutil.copytree(finished, out)

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    def no_generation(*args, **kwargs):
        raise AssertionError("finished predictions were generated again")

    monkeypatch.setattr(TRAIN_MODULE, "train", no_training)
    monkeypatch.setattr(GENERATE_MODULE, "generate", no_generation)
    run(data, out)
    assert metric_table(out) == metric_table(finished)
    # a changed recipe is a different run: it gets its own folder and is trained
    monkeypatch.undo()
    changed = recipes(data)[:1]
    changed[0].stages[1].lr = 1e-2
    compare(changed, out, baselines=(), bootstrap=20)
    assert len(list((out / "runs").glob("demo-llava-rad-*"))) == 2


def test_interrupted_comparison_resumes_where_it_stopped(data, finished: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    out = tmp_path / "parts"
    real_train = TRAIN_MODULE.train
    trained: list[tuple[str, bool]] = []

    def crash_in_second_run(cfg, run_dir, resume=False, **kwargs):
        trained.append((str(cfg.name), resume))
        if len(trained) == 2:  # the second recipe: one optimizer step, checkpointed, then the process "dies"
            real_train(cfg, run_dir, resume=resume, stop_after_steps=1)
            raise KeyboardInterrupt
        return real_train(cfg, run_dir, resume=resume, **kwargs)

    monkeypatch.setattr(TRAIN_MODULE, "train", crash_in_second_run)
    with pytest.raises(KeyboardInterrupt):
        run(data, out)
    assert not (out / "leaderboard.json").exists()
    run(data, out)
    first, second = [str(c.name) for c in recipes(data)]
    # rerun: the finished first run is reused, the second resumes from its checkpoint
    assert trained == [(first, False), (second, False), (second, True)]
    assert metric_table(out) == metric_table(finished)
    efficiency = json.loads(next((out / "runs").glob(f"{second}-*/efficiency.json")).read_text())
    assert efficiency["train_time_s"] > 0  # both attempts counted


def test_cli_compare_prints_the_leaderboard(data, finished: Path, tmp_path: Path, capsys) -> None:
    from radzoo.cli import main

    out = tmp_path / "cli"
    shutil.copytree(finished, out)  # the same recipe and overrides: nothing to train
    steps = [f"stages.{i}.{key}={n}" for i, n in enumerate(STEPS["demo/llava-rad"])
             for key in ("max_steps",)] + ["stages.0.batch_size=4", "stages.1.batch_size=4"]
    code = main(["compare", "demo/llava-rad", *QUIET, *steps, "--out", str(out), "--data", f"synthetic:{data}",
                 "--baselines", "constant", "--bootstrap", "20"])
    text = capsys.readouterr().out
    assert code == 0
    assert "demo-llava-rad" in text and "constant" in text and "leaderboard.md" in text
    assert len(list((out / "runs").glob("demo-llava-rad-*"))) == 1  # reused, not a new run


def test_cli_compare_suite_records_the_columns_it_could_not_compute(data, finished: Path, tmp_path: Path,
                                                                   capsys) -> None:
    from radzoo.cli import main

    out = tmp_path / "suite"
    shutil.copytree(finished, out)  # nothing to train: only the scoring changes
    steps = [f"stages.{i}.max_steps={n}" for i, n in enumerate(STEPS["demo/llava-rad"])]
    code = main(["compare", "demo/llava-rad", *QUIET, *steps, "stages.0.batch_size=4", "stages.1.batch_size=4",
                 "--out", str(out), "--data", f"synthetic:{data}", "--baselines", "constant", "--bootstrap", "20",
                 "--suite", "rexrank"])
    assert code == 0 and "not computed: bertscore (evaluator rexrank_bertscore)" in capsys.readouterr().out
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["headline"] == "bleu_score" and "bleu_score" in board["metrics"]
    missing = board["context"]["not_computed"]
    for name in ("rexrank_bertscore", "semb_score", "radgraph", "rexrank_radcliq", "ratescore", "green"):
        assert f"{name}: " in missing
    assert "rexrank_bertscore.model_path" in missing  # each with what it needs


def test_cli_compare_bad_input_is_one_line(capsys) -> None:
    from radzoo.cli import main

    assert main(["compare", "demo/llava-rad", "--out", "x", "--data", "csv:"]) == 2
    assert "--data 'csv:': expected FORMAT or FORMAT:PATH" in capsys.readouterr().err
    assert main(["compare", "stages.0.lr=1", "--out", "x"]) == 2
    assert "name at least one recipe" in capsys.readouterr().err


def test_compare_and_demo_help_import_no_torch() -> None:
    code = ("import sys; from radzoo.cli import _parser; _parser(); "
            "print(sorted(m for m in ('torch', 'lightning', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
