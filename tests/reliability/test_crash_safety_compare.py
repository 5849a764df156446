"""`radzoo compare` as a real process, killed with -9 in training and again in generation, then rerun: nothing
finished is redone and the leaderboard equals an uninterrupted comparison's.

(tests/comparison/test_compare.py resumes after an in-process KeyboardInterrupt; this kills the whole process.)
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from conftest import radzoo_process, run_cli, stop, wait_for

from radzoo.files.jsonl import read_records

pytestmark = pytest.mark.slow  # kills and resumes child processes

SETTINGS = ["trainer.progress_bar=false", "generation.max_new_tokens=6", "stages.0.max_steps=3",
            "stages.1.max_steps=3", "stages.0.batch_size=4", "stages.1.batch_size=4",
            "trainer.checkpoint_every_n_steps=1"]


@pytest.fixture(scope="module")
def compare_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from radzoo.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("compare-set"), 40, seed=2, image_size=64)  # 4 test studies


def leaderboard(out: Path) -> list[tuple]:
    """Every row's metric values, CIs and p-values (timings differ between runs by nature)."""
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    return [(r["name"], sorted((m, c["value"], c["ci_low"], c["ci_high"], c["p_vs_best"])
                               for m, c in r["metrics"].items())) for r in rows]


def test_kill_9_in_training_and_in_generation_then_rerun_equals_an_uninterrupted_comparison(
        compare_set: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "killed"
    command = ["compare", "demo/llava-rad", *SETTINGS, "--data", f"synthetic:{compare_set}", "--baselines",
               "constant", "--bootstrap", "20", "--batch-size", "1"]
    runs = out / "runs"

    def checkpointed() -> bool:
        return any(runs.glob("*/checkpoints/last/state.json"))

    def some_predictions() -> bool:
        return any(len(p.read_bytes().splitlines()) >= 1 for p in runs.glob("*/predictions.jsonl"))

    log = tmp_path / "first.log"
    child = radzoo_process([*command, "--out", out], log, slow=("radzoo.training.stage_run:save_checkpoint", 0.4))
    wait_for(checkpointed, child, log)
    assert stop(child, signal.SIGKILL) == -signal.SIGKILL
    assert not list(runs.glob("*/model.safetensors"))  # killed while training

    log = tmp_path / "second.log"
    child = radzoo_process([*command, "--out", out], log, slow=("radzoo.files.jsonl:JsonlWriter.write_batch", 0.5))
    wait_for(some_predictions, child, log)
    assert stop(child, signal.SIGKILL) == -signal.SIGKILL
    assert "training (resuming)" in log.read_text()
    [predictions] = list(runs.glob("*/predictions.jsonl"))
    kept = read_records(predictions)
    assert 1 <= len(kept) < 4 and not (out / "leaderboard.json").exists()

    code, stdout, stderr = run_cli(capsys, *command, "--out", out)
    assert code == 0, stderr
    assert "reusing the finished run" in stderr and f"{len(kept)} studies already done" in stderr  # radzoo's log
    assert read_records(predictions)[:len(kept)] == kept  # what was written before the kill is kept as it was
    assert run_cli(capsys, *command, "--out", tmp_path / "whole")[0] == 0
    assert leaderboard(out) == leaderboard(tmp_path / "whole")
