"""Where a generated report ends: at its first EOS id. The pad id only fills a row after its end; a release may
pad with a token its model also emits (llava-hf's `<unk>`), so stopping there would cut reports short."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def eos_ids(override: Sequence[int] | None, tokenizer: Any) -> tuple[int, ...]:
    """The ids that end a report: the decode settings' ``eos_token_ids`` when given, else the tokenizer's."""
    eos = tokenizer.eos_token_id if override is None else override
    return tuple(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None)


def report_length(ids: Sequence[int], eos: Sequence[int]) -> int:
    """How many of ``ids`` belong to the report: those before the first EOS (all of them without one)."""
    return next((n for n, t in enumerate(ids) if t in eos), len(ids))


def until_eos(rows: Sequence[Sequence[int]], eos: Sequence[int]) -> list[list[int]]:
    """Each row's ids up to (not including) its first EOS."""
    return [list(row[:report_length(row, eos)]) for row in rows]
