"""Comparison plots (PNG, matplotlib, headless): metric bars with CI whiskers; quality vs speed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from radzoo.comparison.leaderboard import LeaderboardRow
from radzoo.files.atomic import atomic_target


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


LEARNED, REFERENCE = "#4C72B0", "#9A9A9A"
PANELS_PER_ROW = 3  # a 2040 px strip of five panels shrinks its labels unreadably when embedded in a page


def _legend(target, **where) -> None:
    """Blue = learned recipe, grey = reference row, on a figure or an axes."""
    from matplotlib.patches import Patch

    target.legend(handles=[Patch(color=LEARNED, label="learned recipe"), Patch(color=REFERENCE, label="reference row")],
                  fontsize=8, **where)


def plot_metric_bars(rows: Sequence[LeaderboardRow], metrics: Sequence[str], path: str | Path) -> Path:
    """One panel per metric (three to a row): a bar per system with its value written on it and its 95%
    bootstrap CI as whiskers; blue learned recipes, grey reference rows, as the legend says."""
    plt = _pyplot()
    ncols = min(PANELS_PER_ROW, len(metrics))
    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.3 * nrows + 0.4), squeeze=False)
    colours = [LEARNED if r.kind == "learned" else REFERENCE for r in rows]
    for ax, metric in zip(axes.flat, metrics):
        values, low, high = [], [], []
        for r in rows:
            c = r.metrics.get(metric)
            v = c.value if c else 0.0
            values.append(v)
            low.append(v - c.ci_low if c and c.ci_low is not None else 0.0)
            high.append(c.ci_high - v if c and c.ci_high is not None else 0.0)
        ax.bar(range(len(rows)), values, yerr=[low, high], color=colours, capsize=3, error_kw={"linewidth": 1})
        for x, (v, up) in enumerate(zip(values, high)):  # the value on every bar (a 0.000 bar has no height),
            # written above its CI whisker so the two never cross
            ax.annotate(f"{v:.3f}", (x, v + up), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=7)
        ax.axhline(0, color="#444444", linewidth=0.8)
        ax.set_xticks(range(len(rows)), [r.name for r in rows], rotation=30, ha="right", fontsize=8)
        higher = any(r.metrics.get(metric) and r.metrics[metric].higher_is_better for r in rows)
        ax.set_title(metric, fontsize=10)
        ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)", fontsize=8)
        ax.margins(y=0.12)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    _legend(fig, loc="upper right", ncol=2, frameon=False)
    fig.suptitle("metrics with 95% bootstrap CIs", x=0.01, ha="left", fontsize=10)
    return _save(plt, fig, Path(path))


def _plain_log_ticks(ax, speeds: Sequence[float]) -> None:
    """Log-scale ticks as plain numbers ("120", not "1.2x10²"); minor ticks labelled within one decade."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda x, _pos: f"{x:,.0f}" if x >= 10 else f"{x:g}")
    ax.xaxis.set_major_formatter(plain)
    one_decade = max(speeds) / min(speeds) < 10
    ax.xaxis.set_minor_formatter(plain if one_decade else NullFormatter())
    ax.tick_params(axis="x", which="minor", labelsize=7)


def plot_quality_vs_speed(rows: Sequence[LeaderboardRow], metric: str, path: str | Path) -> Path:
    """Headline metric (with its CI) against generation throughput (reports/s, log scale, plain ticks). Every
    row with a speed is a point (grey for reference rows); a reference row without one (the constant
    report) is a dashed line, the level a model has to clear."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    speeds = []
    for r in rows:
        c = r.metrics.get(metric)
        if c is None:
            continue
        colour = LEARNED if r.kind == "learned" else REFERENCE
        speed = r.efficiency.get("reports_per_s")
        if not speed:
            if r.kind != "learned":
                ax.axhline(c.value, color=REFERENCE, linestyle="--", linewidth=1)
                ax.annotate(f"{r.name} (no model)", (0.01, c.value), xycoords=("axes fraction", "data"),
                            textcoords="offset points", xytext=(0, 3), fontsize=8, color="#606060")
            continue
        speeds.append(speed)
        err = [[c.value - c.ci_low], [c.ci_high - c.value]] if c.ci_low is not None else None
        ax.errorbar([speed], [c.value], yerr=err, fmt="o" if r.kind == "learned" else "s", color=colour, capsize=3)
        ax.annotate(r.name, (speed, c.value), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    if speeds:
        _plain_log_ticks(ax, speeds)
    ax.margins(x=0.25, y=0.12)  # room for the point labels
    ax.set_xlabel("reports / s (generation; log scale, further right is faster)")
    ax.set_ylabel(f"{metric} (higher is better)")
    ax.set_title("quality vs speed: up and to the right is better", fontsize=10)
    _legend(ax, loc="best")
    return _save(plt, fig, Path(path))
