"""The leaderboard in a terminal: a compact rich table (headline with CI and tie mark, a few metrics, costs).

Never cut: a table wider than the terminal is split in two (the headline, then the rest, each with the system
column), and where even those do not fit each system gets a block of ``column: value`` lines. Written to a file
or a pipe (stdout not a terminal), the whole table is printed at its natural width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from radzoo.comparison.leaderboard import LeaderboardRow, best_rows, format_or_dash, metric_text

SECONDARY = {"chexpert_micro_f1_5": "F1-5", "bleu_4": "BLEU-4"}
UNLIMITED = 10_000  # columns: wide enough to measure any table at its natural width


def _count(value: Any) -> str:
    """1,234,567 -> 1.2M: the terminal table has no room for full parameter counts."""
    if value is None:
        return "–"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def leaderboard_cells(rows: Sequence[LeaderboardRow], headline: str) -> tuple[list[str], list[list[str]]]:
    """(column labels, one list of cell texts per row, rich markup included) of the compact leaderboard."""
    secondary = {m: label for m, label in SECONDARY.items() if m != headline and rows and m in rows[0].metrics}
    labels = ["system", "weights", headline.replace("chexpert_", ""), *secondary.values(), "params", "train s",
              "rep/s"]
    best = best_rows(rows, headline)
    cells = []
    for row in rows:
        cell = row.metrics.get(headline)
        text = "–" if cell is None else metric_text(cell, row.name == best, lambda t: f"[bold green]{t}[/]",
                                                    ci_digits=2)
        extra = [format_or_dash(row.metrics[m].value if m in row.metrics else None, "{:.3f}") for m in secondary]
        weights = (row.weights_from or "–").split()[0]  # the first word of "weights from"; the lines below say all
        cells.append([row.name, weights, text, *extra, _count(row.efficiency.get("params_total")),
                      format_or_dash(row.efficiency.get("train_time_s"), "{:,.0f}"),
                      format_or_dash(row.efficiency.get("reports_per_s"), "{:,.1f}")])
    return labels, cells


def leaderboard_table(rows: Sequence[LeaderboardRow], headline: str, columns: Sequence[int] | None = None,
                      title: bool = True) -> Any:
    """A ``rich.table.Table`` of the given columns (default all; the system column is always first); cells never
    wrap or get cut: the caller picks columns that fit. leaderboard.md has every metric and p-value."""
    from rich import box
    from rich.table import Table

    labels, cells = leaderboard_cells(rows, headline)
    keep = [0, *(c for c in (columns if columns is not None else range(1, len(labels))) if c != 0)]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title_justify="left",
                  title=f"{headline} [95% CI] (≈: ties the best); F1-5: chexpert_micro_f1_5" if title else None)
    for c in keep:
        table.add_column(labels[c], justify="left" if c < 2 else "right", no_wrap=True)
    for row, texts in zip(rows, cells, strict=True):
        table.add_row(*(texts[c] for c in keep), style=None if row.kind == "learned" else "dim")
    return table


def _width(renderable: Any) -> int:
    """The columns ``renderable`` takes at its natural width."""
    from rich.console import Console

    return Console(width=UNLIMITED).measure(renderable).maximum


def terminal_leaderboard(rows: Sequence[LeaderboardRow], headline: str, width: int | None) -> list[Any]:
    """What to print for a terminal ``width`` columns wide (None: not a terminal, any width): the whole table, or
    it split in two tables, or one block of ``column: value`` lines per system; nothing is ever cut."""
    from rich.text import Text

    whole = leaderboard_table(rows, headline)
    if width is None or _width(whole) <= width:
        return [whole]
    labels, _ = leaderboard_cells(rows, headline)
    halves = [leaderboard_table(rows, headline, [1, 2]),
              leaderboard_table(rows, headline, range(3, len(labels)), title=False)]
    if all(_width(half) <= width for half in halves):
        return halves
    labels, cells = leaderboard_cells(rows, headline)
    blocks: list[Any] = []
    for texts in cells:
        blocks.append(Text.from_markup(f"[bold]{texts[0]}[/]"))
        blocks += [Text.from_markup(f"  {label}: {text}") for label, text in zip(labels[1:], texts[1:], strict=True)]
    return blocks


def print_leaderboard(rows: Sequence[LeaderboardRow], headline: str, files: dict[str, Any]) -> None:
    """Print the table (split or in blocks where the terminal is narrow; whole when written to a file), what each
    encoder was trained on, and where the files are."""
    from rich.console import Console

    console = Console()
    parts = terminal_leaderboard(rows, headline, console.width if console.is_terminal else None)
    if not console.is_terminal:
        console = Console(width=max(_width(parts[0]), console.width))
    for part in parts:
        console.print(part, soft_wrap=not hasattr(part, "columns"))
    lines = ["dim rows: the reference rows a learned model has to beat. Weights from; encoder trained on:"]
    lines += [f"  {row.name}: {row.weights_from or '–'}; {row.encoder_trained_on or '–'}"
              for row in rows if row.kind == "learned"]
    lines += [f"  {key:<12} {path}" for key, path in files.items()]
    for line in lines:  # soft wrap: a path is never broken across lines (copy-paste stays whole)
        console.print(line, highlight=False, soft_wrap=True)
