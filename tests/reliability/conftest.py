"""Shared pieces of the reliability suite: the CLI in-process and as a real process, tiny data sets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_chexprompt import judge  # noqa: F401 - the CheXprompt evaluator on a local server, for this suite too

from radzoo.cli import main

DEBUG_HINT = "(run with --debug for the full traceback)"
# the demo model, as small and quiet as it gets: a few tokens per report, no progress bar
QUIET_TRAIN = ["trainer.accelerator=cpu", "trainer.progress_bar=false", "trainer.loggers=[csv]"]
SHORT_GENERATION = ["generation.max_new_tokens=4"]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``radzoo ARGV`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, command: str) -> str:
    """The single ``radzoo CMD: error: ...`` line of ``err`` (no traceback, only the --debug hint besides)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.startswith(f"radzoo {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 2) -> str:
    """Run ``radzoo ARGV`` expecting a user error: the one error line (exit code ``code``)."""
    got, _, err = run_cli(capsys, *argv)
    assert got == code, err
    return one_line_error(err, str(argv[0]))


# runs `radzoo ARGV` after making one function sleep after each call: a wide, known window for a signal to land
SLOWED_CLI = """
import importlib, sys, time
target, delay = sys.argv[1], float(sys.argv[2])
module, _, attribute = target.partition(":")
owner = importlib.import_module(module)
*path, name = attribute.split(".")
for part in path:
    owner = getattr(owner, part)
original = getattr(owner, name)
def slowed(*args, **kwargs):
    result = original(*args, **kwargs)
    time.sleep(delay)
    return result
setattr(owner, name, slowed)
from radzoo.cli import main
sys.exit(main(sys.argv[3:]))
"""


def radzoo_process(args: list[str], log: Path, slow: tuple[str, float] | None = None,
                   env: dict[str, str] | None = None) -> subprocess.Popen:
    """``radzoo ARGS`` as a real child process, stdout+stderr to ``log``.

    ``slow=("module:attr", seconds)`` makes that function sleep after each call (the child's only change).
    """
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    command = ["-c", SLOWED_CLI, slow[0], str(slow[1])] if slow else ["-m", "radzoo.cli"]
    with log.open("wb") as stream:
        return subprocess.Popen([sys.executable, *command, *map(str, args)], stdout=stream,
                                stderr=subprocess.STDOUT, env=environment, preexec_fn=_terminal_sigint)


def _terminal_sigint() -> None:
    """The child takes Ctrl-C as from a terminal: a test runner started as a background job (``cmd &`` in a
    script) has SIGINT ignored, and an ignored signal stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition: Callable[[], bool], child: subprocess.Popen, log: Path, limit_s: float = 240) -> None:
    """Poll until ``condition()`` holds while ``child`` runs (a generous limit only guards against a hang)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert child.poll() is None, f"the child ended before the condition held:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"condition never held:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def stop(child: subprocess.Popen, sig: signal.Signals, limit_s: float = 120) -> int:
    """Send ``sig`` to the child and wait for it to end; its exit code (negative: killed by a signal)."""
    child.send_signal(sig)
    try:
        return child.wait(limit_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-study synthetic set at 64 px (reports.csv + images/), shared by the suite; never modified."""
    from radzoo.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("tiny-set"), 12, seed=1, image_size=64)
