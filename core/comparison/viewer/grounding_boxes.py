"""Grounded rows' phrases and boxes per study (what MAIRA-2's grounded reporting writes beside each report)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from radzoo.comparison.viewer.comparison_files import Comparison, _predictions_file
from radzoo.files.jsonl import read_records


def grounding_by_row(comparison: Comparison, ids: Sequence[str]) -> dict[str, list[list[dict[str, Any]] | None]]:
    """Row name -> per study its grounding (phrases with pixel boxes) or None, for rows whose predictions have
    any; rows without grounding are left out."""
    out = {}
    for row in comparison.board["rows"]:
        path = _predictions_file(comparison.out_dir, row)
        if path is None:
            continue
        found = {str(r["id"]): r["grounding"] for r in read_records(path) if r.get("grounding")}
        if found:
            out[row["name"]] = [found.get(i) for i in ids]
    return out
