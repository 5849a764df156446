"""radzoo compare with run directories (`run:DIR`) beside recipes: scored alike, never trained, origin shown."""

from __future__ import annotations

import csv
import importlib
import json
import re
import shutil
from pathlib import Path

import pytest

from radzoo.files.jsonl import read_records
from radzoo.recipe.load import load_recipe

pytestmark = pytest.mark.slow  # trains a run and compares it

TRAIN_MODULE = importlib.import_module("radzoo.training.pipeline")
SETTINGS = ["trainer.progress_bar=false", "generation.max_new_tokens=8", "generation.batch_size=4",
            "stages.0.max_steps=1", "stages.1.max_steps=1", "stages.0.batch_size=4", "stages.1.batch_size=4"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from radzoo.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("synthetic"), 40, image_size=64)  # 32 train, 4 test studies


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory) -> dict[str, Path]:
    """A trained run, and a copy of it that says it was imported (as `radzoo import` leaves provenance.json)."""
    root = tmp_path_factory.mktemp("given")
    trained = root / "earlier"
    TRAIN_MODULE.train(load_recipe("demo/llava-rad", [*SETTINGS, f"data.path={data}"]), trained)
    imported = root / "published"
    shutil.copytree(trained, imported)
    (imported / "provenance.json").write_text(json.dumps(
        {"source": "/data/llava-rad", "format": "llava-rad", "repo": "microsoft/llava-rad", "files": []}))
    return {"trained": trained, "imported": imported}


def test_run_directories_are_scored_beside_a_recipe_and_never_trained(data, runs, tmp_path, capsys,
                                                                        monkeypatch) -> None:
    from radzoo.cli import main

    before = {name: sorted(p.name for p in path.iterdir()) for name, path in runs.items()}
    trained: list[str] = []
    real_train = TRAIN_MODULE.train

    def counting_train(cfg, run_dir, **kwargs):
        trained.append(str(cfg.name))
        return real_train(cfg, run_dir, **kwargs)

    monkeypatch.setattr(TRAIN_MODULE, "train", counting_train)
    out = tmp_path / "cmp"
    code = main(["compare", "demo/llava-rad", *SETTINGS, f"run:{runs['trained']}", f"run:{runs['imported']}",
                 "--out", str(out), "--data", f"synthetic:{data}", "--baselines", "constant", "--bootstrap", "20"])
    terminal = capsys.readouterr().out
    assert code == 0
    assert trained == ["demo-llava-rad"], "only the recipe is trained; run directories are used as they are"

    board = json.loads((out / "leaderboard.json").read_text())
    rows = {r["name"]: r for r in board["rows"]}
    # the runs' recipe has the recipe's name: their rows are told apart by their directories
    assert rows["demo-llava-rad"]["weights_from"] == "trained here"
    assert rows["demo-llava-rad@earlier"]["weights_from"] == f"trained run {runs['trained']}"
    assert rows["demo-llava-rad@published"]["weights_from"] == "imported llava-rad microsoft/llava-rad"
    assert rows["constant"]["weights_from"] == "– (no weights)"
    metrics = set(rows["demo-llava-rad"]["metrics"])
    for name in ("demo-llava-rad@earlier", "demo-llava-rad@published"):
        assert set(rows[name]["metrics"]) == metrics and rows[name]["kind"] == "learned"
        assert rows[name]["efficiency"]["train_time_s"] is None and rows[name]["efficiency"]["params_total"] > 0

    # the same weights on the same split: the same reports, written in the comparison's folder, not the run's
    given = {name: sorted((out / "runs").glob(f"{name}-run-*/predictions.jsonl"))
             for name in ("demo-llava-rad@earlier", "demo-llava-rad@published")}
    assert all(len(files) == 1 for files in given.values())
    reports = [{r["id"]: r["prediction"] for r in read_records(files[0])} for files in given.values()]
    assert len(reports[0]) == 4 and reports[0] == reports[1]
    assert before == {name: sorted(p.name for p in path.iterdir()) for name, path in runs.items()}

    md = (out / "leaderboard.md").read_text()
    assert re.search(r"\| weights from +\|", md) and re.search(r"\| imported llava-rad microsoft/llava-rad +\|", md)
    with open(out / "leaderboard.csv", newline="") as f:
        table = {r["system"]: r for r in csv.DictReader(f)}
    assert table["demo-llava-rad@earlier"]["weights_from"].startswith("trained run ")
    assert "weights" in terminal and "imported" in terminal and "trained run" in terminal


def test_a_directory_that_is_no_run_is_one_line(tmp_path, capsys) -> None:
    from radzoo.cli import main

    (tmp_path / "config.json").write_text("{}")  # e.g. a transformers LLaVA directory
    assert main(["compare", f"run:{tmp_path}", "--out", str(tmp_path / "cmp")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("radzoo compare: error:")]
    assert len(errors) == 1 and "not a radzoo run directory" in errors[0] and "radzoo import llava-hf" in errors[0]
    assert not (tmp_path / "cmp").exists()
