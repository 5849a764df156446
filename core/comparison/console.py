"""The leaderboard in a terminal: a compact rich table (headline with CI and tie mark, a few metrics, costs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from radzoo.comparison.leaderboard import LeaderboardRow, best_rows, format_or_dash, metric_text

SECONDARY = {"chexpert_micro_f1_5": "F1-5", "bleu_4": "BLEU-4"}


def _count(value: Any) -> str:
    """1,234,567 -> 1.2M: the terminal table has no room for full parameter counts."""
    if value is None:
        return "–"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def leaderboard_table(rows: Sequence[LeaderboardRow], headline: str) -> Any:
    """A ``rich.table.Table`` that fits 80 columns; leaderboard.md has every metric and p-value."""
    from rich import box
    from rich.table import Table

    secondary = {m: label for m, label in SECONDARY.items() if m != headline and rows and m in rows[0].metrics}
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title_justify="left",
                  title=f"{headline} [95% CI] (≈: ties the best); F1-5: chexpert_micro_f1_5")
    table.add_column("system", no_wrap=True)
    table.add_column("weights", no_wrap=True)  # the first word of "weights from"; the lines below say the rest
    table.add_column(headline.replace("chexpert_", ""), justify="right", no_wrap=True)
    for label in [*secondary.values(), "params", "train s", "rep/s"]:
        table.add_column(label, justify="right")
    best = best_rows(rows, headline)
    for row in rows:
        cell = row.metrics.get(headline)
        text = "–" if cell is None else metric_text(cell, row.name == best, lambda t: f"[bold green]{t}[/]",
                                                    ci_digits=2)
        extra = [format_or_dash(row.metrics[m].value if m in row.metrics else None, "{:.3f}") for m in secondary]
        weights = (row.weights_from or "–").split()[0]
        table.add_row(row.name, weights, text, *extra, _count(row.efficiency.get("params_total")),
                      format_or_dash(row.efficiency.get("train_time_s"), "{:,.0f}"),
                      format_or_dash(row.efficiency.get("reports_per_s"), "{:,.1f}"),
                      style=None if row.kind == "learned" else "dim")
    return table


def print_leaderboard(rows: Sequence[LeaderboardRow], headline: str, files: dict[str, Any]) -> None:
    """Print the table, what each encoder was trained on, and where the files are."""
    from rich.console import Console

    console = Console()
    console.print(leaderboard_table(rows, headline))
    lines = ["dim rows: the reference rows a learned model has to beat. Weights from; encoder trained on:"]
    lines += [f"  {row.name}: {row.weights_from or '–'}; {row.encoder_trained_on or '–'}"
              for row in rows if row.kind == "learned"]
    lines += [f"  {key:<12} {path}" for key, path in files.items()]
    for line in lines:  # soft wrap: a path is never broken across lines (copy-paste stays whole)
        console.print(line, highlight=False, soft_wrap=True)
