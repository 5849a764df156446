"""The terminal leaderboard is never cut: split in two tables, or one block per system, where the terminal is
narrow; the whole table when stdout is a file or a pipe."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from radzoo.comparison.console import print_leaderboard, terminal_leaderboard
from radzoo.comparison.leaderboard import LeaderboardRow, MetricCell

HEADLINE = "chexpert_micro_f1_14"


def _rows() -> list[LeaderboardRow]:
    def cells(f1: float, bleu: float, p: float | None) -> dict[str, MetricCell]:
        return {HEADLINE: MetricCell(f1, f1 - 0.04, f1 + 0.04, True, p),
                "chexpert_micro_f1_5": MetricCell(f1 - 0.01, f1 - 0.05, f1 + 0.03, True, p),
                "bleu_4": MetricCell(bleu, bleu - 0.02, bleu + 0.02, True, p)}

    return [LeaderboardRow("demo-llava-rad", "learned", metrics=cells(0.696, 0.288, None), weights_from="trained here",
                           efficiency={"params_total": 990784, "train_time_s": 227.6, "reports_per_s": 101.5}),
            LeaderboardRow("nearest-neighbour", "baseline", metrics=cells(0.601, 0.266, 1 / 1001),
                           efficiency={"reports_per_s": 91.7}),
            LeaderboardRow("constant", "baseline", metrics=cells(0.212, 0.189, 1 / 1001))]


def _render(parts: list, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    for part in parts:
        console.print(part)
    return console.file.getvalue()


EVERY_CELL = ("demo-llava-rad", "nearest-neighbour", "0.696 [0.66, 0.74]", "0.601 [0.56, 0.64]", "0.686", "0.288",
              "990.8k", "228", "101.5", "91.7", "micro_f1_14", "BLEU-4", "params", "train s", "rep/s")


@pytest.mark.parametrize(("width", "parts"), [(200, 1), (60, 2), (36, None)])
def test_a_narrow_terminal_gets_every_cell_and_no_ellipsis(width, parts):
    shown = terminal_leaderboard(_rows(), HEADLINE, width)
    text = _render(shown, width)
    assert "…" not in text
    assert all(cell in text for cell in EVERY_CELL), text
    if parts is not None:
        assert len(shown) == parts
    else:  # one block per system: its name, then a line per column
        assert len(shown) == 3 * (1 + 7) and text.splitlines()[0].strip() == "demo-llava-rad"
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width


def test_stdout_that_is_not_a_terminal_gets_the_whole_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")  # what a log's 80 (or any) column default must not cut
    print_leaderboard(_rows(), HEADLINE, {"md": "/out/leaderboard.md"})
    out = capsys.readouterr().out
    assert "…" not in out and all(cell in out for cell in EVERY_CELL), out
    header = next(line for line in out.splitlines() if "system" in line)
    assert "micro_f1_14" in header and "rep/s" in header  # one table: every column on one line
