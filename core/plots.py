"""Comparison plots (PNG, matplotlib, headless): metric bars with CI whiskers; quality vs speed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from radzoo.atomic_files import atomic_target
from radzoo.leaderboard import LeaderboardRow


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    """Save atomically (``atomic_target``), so a reader never sees half an image."""
    fig.tight_layout()
    try:
        with atomic_target(path) as tmp:  # the temporary name ends in .tmp, so name the format
            fig.savefig(tmp, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return Path(path)


def plot_metric_bars(rows: Sequence[LeaderboardRow], metrics: Sequence[str], path: str | Path) -> Path:
    """One panel per metric: a bar per system with its 95% bootstrap CI as whiskers."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics) + 1, 3.6), squeeze=False)
    colours = ["#4C72B0" if r.kind == "learned" else "#9A9A9A" for r in rows]
    for ax, metric in zip(axes[0], metrics):
        values, low, high = [], [], []
        for r in rows:
            c = r.metrics.get(metric)
            v = c.value if c else 0.0
            values.append(v)
            low.append(v - c.ci_low if c and c.ci_low is not None else 0.0)
            high.append(c.ci_high - v if c and c.ci_high is not None else 0.0)
        ax.bar(range(len(rows)), values, yerr=[low, high], color=colours, capsize=3)
        ax.set_xticks(range(len(rows)), [r.name for r in rows], rotation=35, ha="right", fontsize=8)
        direction = "↑" if any(r.metrics.get(metric) and r.metrics[metric].higher_is_better for r in rows) else "↓"
        ax.set_title(f"{metric} {direction}", fontsize=9)
    return _save(plt, fig, Path(path))


def plot_quality_vs_speed(rows: Sequence[LeaderboardRow], metric: str, path: str | Path) -> Path:
    """Headline metric (with its CI) against generation throughput (reports/s, log scale) for the learned
    rows; reference rows are dashed horizontal lines, the level a model has to clear."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 3.8))
    for r in rows:
        c = r.metrics.get(metric)
        if c is None:
            continue
        if r.kind != "learned":
            ax.axhline(c.value, color="#9A9A9A", linestyle="--", linewidth=1)
            ax.annotate(r.name, (0.01, c.value), xycoords=("axes fraction", "data"), textcoords="offset points",
                        xytext=(0, 3), fontsize=8, color="#606060")
            continue
        speed = r.efficiency.get("reports_per_s")
        if not speed:
            continue
        err = [[c.value - c.ci_low], [c.ci_high - c.value]] if c.ci_low is not None else None
        ax.errorbar([speed], [c.value], yerr=err, fmt="o", capsize=3)
        ax.annotate(r.name, (speed, c.value), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.25, y=0.12)  # room for the point labels
    ax.set_xlabel("reports / s (generation)")
    ax.set_ylabel(metric)
    ax.set_title("quality vs speed", fontsize=10)
    return _save(plt, fig, Path(path))
