"""compare --task impression / vqa on a tiny synthetic set: a leaderboard per task, findings files untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from radzoo.comparison.pipeline import compare
from radzoo.recipe.load import load_recipe

QUIET = ["trainer.progress_bar=false", "generation.max_new_tokens=12", "generation.batch_size=8"]


def recipe(data: Path, task: str, folder: Path):
    """The tiny SLaVA-CXR design, its one reporting stage trained on ``task`` mixed with findings by weight."""
    path = folder / f"{task}.yaml"
    path.write_text("extends: [demo/slava-cxr]\nstages:\n  - {name: reporting, trainable: [adapter, llm], "
                    f"lr: 1.0e-3, max_steps: 3, batch_size: 4, task: {{findings: 0.5, {task}: 0.5}}}}\n")
    return load_recipe(path, [*QUIET, "data.format=synthetic", f"data.path={data}"])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from radzoo.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("synthetic"), 20, image_size=64)  # 16 train, 2 test studies


@pytest.mark.slow
@pytest.mark.parametrize("task", ["impression", "vqa"])
def test_compare_writes_a_leaderboard_per_task(data: Path, tmp_path: Path, task: str) -> None:
    out = tmp_path / "cmp"
    result = compare([recipe(data, task, tmp_path)], out, bootstrap=10, task=task)
    board = json.loads((out / task / "leaderboard.json").read_text())
    assert {r["name"] for r in board["rows"]} == {"demo-slava-cxr", "constant", "nearest-neighbour"}
    run_dir = next((out / "runs").iterdir())
    rows = [json.loads(line) for line in (run_dir / f"predictions-{task}.jsonl").read_text().splitlines()]
    assert not (out / "leaderboard.json").exists() and not (run_dir / "predictions.jsonl").exists()
    assert all(r["task"] == task and r["question"] for r in rows)
    summary = json.loads((run_dir / "train_summary.json").read_text())
    assert set(summary["stages"][0]["examples_by_group"]) == {"findings", task}
    if task == "impression":
        assert len(rows) == 2 and result.headline == "chexpert_micro_f1_14"
        assert rows[0]["question"].startswith("Write a impression summary of this image and the findings report.")
        assert "bleu_4" in board["metrics"]
    else:
        assert len(rows) == 2 * 14 and result.headline == "vqa_closed_accuracy"  # 13 closed + 1 open per study
        constant = next(r for r in board["rows"] if r["name"] == "constant")["metrics"]
        # the constant row answers "no" to every closed question: its accuracy is the share of "no" answers
        answers = [r["reference"] for r in rows if r["kind"] == "closed"]
        assert constant["vqa_closed_accuracy"]["value"] == pytest.approx(answers.count("no") / len(answers))
        assert "vqa_open_micro_f1" in board["metrics"]


@pytest.mark.slow
def test_cli_task_option(data: Path, tmp_path: Path) -> None:
    """`radzoo generate --task vqa` writes one line per question; `radzoo evaluate --task vqa` scores them."""
    preds, scores = tmp_path / "vqa.jsonl", tmp_path / "vqa.json"
    cli = [sys.executable, "-m", "radzoo.cli"]
    subprocess.run([*cli, "generate", "demo/slava-cxr", "--data", str(data), "--format", "synthetic", "--task", "vqa",
                    "--out", str(preds), *QUIET], check=True, capture_output=True)
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(rows) == 28 and {r["kind"] for r in rows} == {"closed", "open"}
    subprocess.run([*cli, "evaluate", "--predictions", str(preds), "--task", "vqa", "--bootstrap", "5",
                    "--out", str(scores)], check=True, capture_output=True)
    metrics = json.loads(scores.read_text())["metrics"]
    assert 0 <= metrics["vqa_closed_accuracy"]["value"] <= 1
