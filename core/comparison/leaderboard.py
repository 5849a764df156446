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

from radzoo.comparison.layout import LEADERBOARD_FILE
from radzoo.files.atomic import write_text_atomic

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
    weights_from: str = ""  # "trained here", or radzoo.runs.layout.origin_of: "trained run DIR", "imported ..."


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


# what the chexpert_* columns mean, printed under the metrics table (leaderboard.md is read unrendered too)
METRIC_NOTES = {
    "chexpert": "chexpert_{micro,macro}_f1_{14,5}: F1 of the CheXpert labels (radzoo's rule labeler) of each "
                "generated report against the reference's; micro pools every (study, observation) decision, macro "
                "averages the per-observation F1; 14 = all CheXpert observations, 5 = Atelectasis, Cardiomegaly, "
                "Consolidation, Edema, Pleural Effusion. Clinical correctness, not wording.",
    "bleu": "bleu_1..4: n-gram precision overlap with the reference (wording).",
    "rouge_l": "rouge_l: longest common subsequence F-measure with the reference (wording).",
    "cider": "cider: TF-IDF-weighted n-gram agreement (CIDEr-D), rewarding the reference's rarer phrases.",
}


def p_text(p: float | None) -> str:
    """A paired-test p-value for people: 3 decimals, and "< 0.001" at the floor 1/(resamples + 1)."""
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _table(head: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table with its columns padded to one width, so that it reads as a table unrendered too."""
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(len(head))]
    rows = [" | ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in [head, *body]]
    rule = "|".join("-" * (w + 2) for w in widths)
    return [f"| {rows[0]} |", f"|{rule}|", *(f"| {r} |" for r in rows[1:])]


def to_markdown(rows: Sequence[LeaderboardRow], metrics: Sequence[str], headline: str,
                notes: Sequence[str] = ()) -> str:
    """Two GitHub-flavoured tables after ``notes``, each readable unrendered: the headline table (headline
    value [CI], paired p vs the best row, costs) and the metrics table (every metric). The best value per
    metric is bold, a value the paired test cannot tell from the best is marked ≈; the metrics are defined
    under the tables."""
    arrows = {m: ("↑" if any(r.metrics.get(m, MetricCell(0)).higher_is_better for r in rows) else "↓")
              for m in metrics}
    best = {m: best_rows(rows, m) for m in metrics}

    def cell(r: LeaderboardRow, m: str) -> str:
        c = r.metrics.get(m)
        return "–" if c is None else metric_text(c, best[m] == r.name, lambda t: f"**{t}**")

    head = ["system", "kind", "weights from", "encoder trained on", f"{headline} {arrows[headline]}",
            f"p vs best ({headline})", *[label for _, label, _ in EFFICIENCY_COLUMNS]]
    body = []
    for r in rows:
        hc = r.metrics.get(headline)
        body.append([r.name, r.kind, r.weights_from or "–", r.encoder_trained_on or "–", cell(r, headline),
                     "best" if best.get(headline) == r.name else p_text(hc.p_vs_best if hc else None),
                     *[format_or_dash(r.efficiency.get(key), fmt) for key, _, fmt in EFFICIENCY_COLUMNS]])
    others = sorted((m for m in metrics if m != headline), key=lambda m: not m.startswith("chexpert"))
    lines = [*notes, *([""] if notes else []), f"## Headline: {headline}", "", *_table(head, body)]
    if others:
        lines += ["", "## Every metric", "", *_table(["system", *[f"{m} {arrows[m]}" for m in others]],
                                                   [[r.name, *[cell(r, m) for m in others]] for r in rows])]
    lines += ["", f"**bold**: best per column; ≈: not significantly different from the best (paired bootstrap "
              f"p ≥ {SIGNIFICANCE}); [low, high]: 95% bootstrap CI; ↑/↓: higher/lower is better; p < 0.001: the "
              "smallest p the paired test's resamples can show.", ""]
    prefixes = {m.split("_")[0] if m.startswith(("chexpert", "bleu")) else m for m in metrics}
    lines += [f"- {text}" for key, text in METRIC_NOTES.items() if key in prefixes]
    return "\n".join(lines) + "\n"


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
        "json": (out_dir / LEADERBOARD_FILE, json.dumps(payload, indent=2, default=float) + "\n"),
    }
    for path, text in files.values():
        write_text_atomic(path, text)
    return {k: p for k, (p, _) in files.items()}
