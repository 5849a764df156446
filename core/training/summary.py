"""The stages of ``train_summary.json``: every stage of the run, also after ``--resume``.

A resumed run trains only what was left; its summary still lists the stages an earlier attempt finished
(from the summary that attempt wrote, or from the checkpoint's losses after a ``kill -9``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def edge_mean(losses: Sequence[float], first: bool) -> float:
    """Mean of the first (or last) tenth of the steps: a stable start/end loss on noisy small batches."""
    k = max(1, len(losses) // 10)
    part = list(losses[:k] if first else losses[-k:])
    return sum(part) / len(part) if part else float("nan")


def _earlier_entries(summary_path: Path) -> dict[str, dict[str, Any]]:
    try:
        return {s["name"]: s for s in json.loads(summary_path.read_text(encoding="utf-8"))["stages"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # none yet, or torn by a kill: the checkpoint's losses stand in


def summary_stages(summary_path: Path, stage_names: Sequence[str], current: Sequence[dict[str, Any]],
                   losses: dict[str, list[float]], resumed: bool) -> list[dict[str, Any]]:
    """One entry per stage trained so far, in recipe order: this attempt's entries, with earlier attempts'
    steps, samples and seconds added when resuming (``losses``: every step's loss by stage)."""
    earlier = _earlier_entries(summary_path) if resumed else {}
    now = {entry["name"]: dict(entry) for entry in current}
    stages = []
    for name in stage_names:
        entry, before, stage_losses = now.get(name), earlier.get(name), losses.get(name, [])
        if entry is None and before is None and not stage_losses:
            continue  # not reached yet
        if entry is None:
            entry = before or {"name": name, "steps": len(stage_losses), "samples": None, "seconds": None,
                               "start_loss": edge_mean(stage_losses, True), "end_loss": edge_mean(stage_losses, False)}
        elif before is not None and stage_losses:  # this attempt continued a stage an earlier one began
            per_step = entry["samples"] / entry["steps"] if entry["steps"] else None
            entry["steps"] = len(stage_losses)
            entry["samples"] = round(per_step * entry["steps"]) if per_step is not None else before.get("samples")
            entry["seconds"] = (before.get("seconds") or 0.0) + entry["seconds"]
        stages.append(entry)
    return stages
