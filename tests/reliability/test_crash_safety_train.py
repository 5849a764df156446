"""Training survives kill -9 and Ctrl-C: checkpoints are never torn and a resumed run equals an uninterrupted one."""

from __future__ import annotations

import json
import logging
import re
import signal
from pathlib import Path

import pytest
import torch
from conftest import QUIET_TRAIN, radzoo_process, run_cli, stop, wait_for

from radzoo.files.weight_files import load_weights
from radzoo.training.checkpoints import LAST, TrainState, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.slow  # kills and resumes child processes

# 3 + 5 optimizer steps, a checkpoint after every one; the save is slowed in the children so signals land mid-run
STEPS = ["stages.0.max_steps=3", "stages.1.max_steps=5", "stages.0.batch_size=4", "stages.1.batch_size=4",
         "trainer.checkpoint_every_n_steps=1", "llm.lora.dropout=0.1"]
SLOW_SAVE = ("radzoo.training.stage_run:save_checkpoint", 0.4)


def checkpoint_step(run: Path) -> tuple[int, int] | None:
    """(stage index, step) of the run's last checkpoint, or None before the first one."""
    path = run / "checkpoints" / LAST / "state.json"
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    return state["stage_index"], state["step"]


def assert_consistent(run: Path) -> TrainState:
    """The last checkpoint loads: its state.json names complete tensor files of its own step."""
    state, weights, extra = load_checkpoint(run / "checkpoints" / LAST)
    tag = f"{state.stage_index}-{state.step}"
    assert state.files == {"weights": f"weights-{tag}.safetensors", "optimizer": f"optimizer-{tag}.safetensors"}
    assert weights and "rng.torch" in extra
    return state


def test_kill_then_ctrl_c_then_resume_equals_an_uninterrupted_run(tiny_set: Path, tmp_path: Path, capsys) -> None:
    # the progress bar stays on: in a log file it becomes plain progress lines with an ETA
    train = ["train", "demo/llava-rad", "trainer.accelerator=cpu", *STEPS, f"data.path={tiny_set}"]
    run = tmp_path / "run"

    killed = radzoo_process([*train, "--out", run], tmp_path / "killed.log", slow=SLOW_SAVE)
    wait_for(lambda: (checkpoint_step(run) or (0, 0)) >= (0, 2), killed, tmp_path / "killed.log")
    assert stop(killed, signal.SIGKILL) == -signal.SIGKILL
    assert re.search(r"stage align: 1/3 steps \(33%\), [\d.]+ steps/s, elapsed 0:\d\d, ETA 0:\d\d",
                     (tmp_path / "killed.log").read_text())
    at_kill = assert_consistent(run)
    assert not (run / "model.safetensors").exists()

    resumed = radzoo_process([*train, "--out", run, "--resume"], tmp_path / "resumed.log", slow=SLOW_SAVE)
    wait_for(lambda: (checkpoint_step(run) or (0, 0)) >= (1, 1), resumed, tmp_path / "resumed.log")
    assert stop(resumed, signal.SIGINT) == 130
    log = (tmp_path / "resumed.log").read_text()
    assert f"resuming at step {at_kill.step}" in log or at_kill.stage_done
    assert "Ctrl-C: stopping after this step with a checkpoint" in log and "Traceback" not in log
    assert f"radzoo train: interrupted; checkpoint saved in {run}: rerun the same command with --resume" in log
    at_interrupt = assert_consistent(run)
    assert (at_interrupt.stage_index, at_interrupt.step) >= (1, 1)

    code, out, err = run_cli(capsys, *train, "--out", run, "--resume")
    assert code == 0 and "done:" in out, err
    code, _, err = run_cli(capsys, *train, "--out", tmp_path / "whole")
    assert code == 0, err
    whole, parts = load_weights(tmp_path / "whole" / "model.safetensors"), load_weights(run / "model.safetensors")
    assert whole.keys() == parts.keys()
    for key in whole:
        assert torch.equal(whole[key], parts[key]), key
    losses = [json.loads((d / "train_summary.json").read_text())["losses"] for d in (tmp_path / "whole", run)]
    assert losses[0] == losses[1]


def test_a_kill_between_checkpoint_files_leaves_the_previous_checkpoint_whole(tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "last"
    first = {"w": torch.zeros(3)}
    save_checkpoint(directory, first, TrainState(0, 1))
    import radzoo.training.checkpoints as resume

    calls = []

    def dies_on_the_second_file(state, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # the new weights are written; the process dies before the optimizer file
            raise KeyboardInterrupt
        return save_weights(state, path, *args, **kwargs)

    save_weights = resume.save_weights
    monkeypatch.setattr(resume, "save_weights", dies_on_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(directory, {"w": torch.ones(3)}, TrainState(0, 2))
    state, weights, _ = load_checkpoint(directory)
    assert state.step == 1 and torch.equal(weights["w"], first["w"])
    monkeypatch.undo()
    save_checkpoint(directory, {"w": torch.ones(3)}, TrainState(0, 2))  # the next save tidies up
    assert sorted(p.name for p in directory.iterdir()) == ["optimizer-0-2.safetensors", "state.json",
                                                           "weights-0-2.safetensors"]


def test_resume_before_the_first_checkpoint_starts_from_the_beginning(tmp_path: Path, caplog) -> None:
    from radzoo.training.pipeline import train

    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "run" / "checkpoints" / LAST)
    with caplog.at_level(logging.INFO, logger="radzoo"):
        result = train("demo/llava-rad", tmp_path / "run", resume=True, stop_after_steps=1,
                       overrides=[*QUIET_TRAIN, "stages.0.max_steps=2", "stages.0.batch_size=2",
                                  "trainer.feature_cache=false"],
                       studies=_two_studies(tmp_path))
    assert result.stopped_early and result.stages[0].steps == 1
    assert any("no checkpoint yet, training from the start" in m for m in caplog.messages)


def _two_studies(folder: Path) -> list:
    import numpy as np
    from PIL import Image

    from radzoo.data.study import Study

    studies = []
    for i in range(2):
        path = folder / f"{i}.png"
        Image.fromarray(np.full((32, 32), 40 * i, np.uint8)).save(path)
        studies.append(Study(f"s{i}", str(path), "The lungs are clear."))
    return studies
