"""After ``--resume``: the summary lists every stage, and a changed recipe is refused naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_train_run import QUIET, make_studies, steps

from radzoo.training.pipeline import train

pytestmark = pytest.mark.slow  # trains


def test_resume_names_the_changed_key_and_the_summary_lists_every_stage(tmp_path: Path) -> None:
    studies = make_studies(tmp_path / "images", 8)
    overrides = QUIET + steps(2, 3)
    run = tmp_path / "run"
    first = train("demo/llava-rad", run, overrides=overrides, studies=studies, stop_after_steps=3)
    assert [(s.name, s.steps) for s in first.stages] == [("align", 2), ("finetune", 1)]
    with pytest.raises(ValueError, match=r"stages\.1\.lr: 0\.002 -> 0\.5"):
        train("demo/llava-rad", run, resume=True, overrides=overrides + ["stages.finetune.lr=0.5"], studies=studies)
    second = train("demo/llava-rad", run, resume=True, overrides=overrides, studies=studies)
    assert [s.name for s in second.stages] == ["finetune"]  # this attempt trained what was left
    summary = json.loads((run / "train_summary.json").read_text())
    assert [(s["name"], s["steps"]) for s in summary["stages"]] == [("align", 2), ("finetune", 3)]
    assert summary["stages"][1]["samples"] == 3 * 4
    assert [len(summary["losses"][name]) for name in ("align", "finetune")] == [2, 3]
