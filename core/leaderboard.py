"""Leaderboard: one row per system, metrics with CIs and direction, best marked, paired p vs the best."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from radzoo.atomic_files import write_text_atomic

# (key, markdown label, format): how each efficiency figure is shown
EFFICIENCY_COLUMNS = (
    ("params_total", "params", "{:,.0f}"),
    ("params_trainable", "trainable", "{:,.0f}"),
    ("image_tokens", "img tokens", "{:,.0f}"),
    ("train_time_s", "train s", "{:,.1f}"),
    ("reports_per_s", "reports/s", "{:,.1f}"),
    ("peak_memory_mb", "peak MB", "{:,.0f}"),
)
SIGNIFICANCE = 0.05  # a cell whose paired test vs the best row has p >= this is marked as a tie


@dataclass
class MetricCell:
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    higher_is_better: bool = True
    p_vs_best: float | None = None  # paired test against the best row on this metric


@dataclass
class LeaderboardRow:
    name: str
    kind: str  # "learned" or "baseline"
    description: str = ""
    encoder_trained_on: str = ""
    metrics: dict[str, MetricCell] = field(default_factory=dict)
    efficiency: dict[str, Any] = field(default_factory=dict)
    weights_from: str = ""  # "trained here", "reused run DIR", "imported ...", "exported from ..."


def best_rows(rows: Sequence[LeaderboardRow], metric: str) -> str | None:
    """Name of the best row on ``metric`` (direction-aware)."""
    scored = [(r.metrics[metric].value, r.name, r.metrics[metric].higher_is_better) for r in rows
              if metric in r.metrics and not math.isnan(r.metrics[metric].value)]
    if not scored:
        return None
    higher = scored[0][2]
    return (max if higher else min)(scored)[1]


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        return f"{x:.{digits}f}" if abs(x) < 1000 else f"{x:,.0f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def format_or_dash(value: Any, fmt: str) -> str:
    """``fmt`` applied to ``value``, or "–" where there is none."""
    return "–" if value is None or value == "" else fmt.format(value)


def metric_text(cell: MetricCell, is_best: bool, emphasise: Callable[[str], str], ci_digits: int = 3) -> str:
    """"value [CI]", emphasised for the best row, marked ≈ where the paired test cannot tell it from the best."""
    text = _fmt(cell.value)
    if cell.ci_low is not None:
        text += f" [{_fmt(cell.ci_low, ci_digits)}, {_fmt(cell.ci_high, ci_digits)}]"
    if is_best:
        return emphasise(text)
    return text + " ≈" if cell.p_vs_best is not None and cell.p_vs_best >= SIGNIFICANCE else text


def to_markdown(rows: Sequence[LeaderboardRow], metrics: Sequence[str], headline: str,
                notes: Sequence[str] = ()) -> str:
    """A GitHub-flavoured table after ``notes``: the best value per metric bold, a value the paired test
    cannot tell from the best marked ≈, and the headline's paired p vs the best row in its own column."""
    arrows = {m: ("↑" if any(r.metrics.get(m, MetricCell(0)).higher_is_better for r in rows) else "↓")
              for m in metrics}
    best = {m: best_rows(rows, m) for m in metrics}
    head = ["system", "kind", "weights from", "encoder trained on", *[f"{m} {arrows[m]}" for m in metrics],
            f"p vs best ({headline})", *[label for _, label, _ in EFFICIENCY_COLUMNS]]
    lines = [*notes, *([""] if notes else []), "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.name, r.kind, r.weights_from or "–", r.encoder_trained_on or "–"]
        for m in metrics:
            c = r.metrics.get(m)
            cells.append("–" if c is None else metric_text(c, best[m] == r.name, lambda t: f"**{t}**"))
        hc = r.metrics.get(headline)
        cells.append("best" if best.get(headline) == r.name else _fmt(hc.p_vs_best if hc else None, 4))
        cells += [format_or_dash(r.efficiency.get(key), fmt) for key, _, fmt in EFFICIENCY_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    legend = (f"\n**bold**: best per column; ≈: not significantly different from the best (paired bootstrap "
              f"p ≥ {SIGNIFICANCE}); [low, high]: 95% bootstrap CI; ↑/↓: higher/lower is better.")
    return "\n".join(lines) + "\n" + legend + "\n"


def to_csv(rows: Sequence[LeaderboardRow], metrics: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["system", "kind", "weights_from", "encoder_trained_on"]
    for m in metrics:
        header += [m, f"{m}_ci_low", f"{m}_ci_high", f"{m}_higher_is_better", f"{m}_p_vs_best", f"{m}_is_best"]
    header += [key for key, _, _ in EFFICIENCY_COLUMNS]
    writer.writerow(header)
    best = {m: best_rows(rows, m) for m in metrics}
    for r in rows:
        line: list[Any] = [r.name, r.kind, r.weights_from, r.encoder_trained_on]
        for m in metrics:
            c = r.metrics.get(m)
            line += ([c.value, c.ci_low, c.ci_high, c.higher_is_better, c.p_vs_best, best[m] == r.name]
                     if c else ["", "", "", "", "", ""])
        line += [r.efficiency.get(key, "") for key, _, _ in EFFICIENCY_COLUMNS]
        writer.writerow(line)
    return out.getvalue()


def write_leaderboard(rows: Sequence[LeaderboardRow], metrics: Sequence[str], headline: str,
                      out_dir: str | Path, context: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write leaderboard.md / .csv / .json atomically; ``context`` (test set, bootstrap, ...) heads the
    markdown and goes into the JSON. Returns the three paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    context = dict(context or {})
    notes = [f"- {key.replace('_', ' ')}: {value}" for key, value in context.items()]
    payload = {
        "context": context,
        "headline": headline,
        "metrics": list(metrics),
        "best": {m: best_rows(rows, m) for m in metrics},
        "rows": [asdict(r) for r in rows],
    }
    files = {
        "md": (out_dir / "leaderboard.md", to_markdown(rows, metrics, headline, notes)),
        "csv": (out_dir / "leaderboard.csv", to_csv(rows, metrics)),
        "json": (out_dir / "leaderboard.json", json.dumps(payload, indent=2, default=float) + "\n"),
    }
    for path, text in files.values():
        write_text_atomic(path, text)
    return {k: p for k, (p, _) in files.items()}
