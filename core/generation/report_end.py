"""Where a generated report ends: at its first EOS id. The pad id only fills a row after its end; a release may
pad with a token its model also emits (llava-hf's `<unk>`), so stopping there would cut reports short."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def eos_ids(gen_kwargs: dict[str, Any], tokenizer: Any) -> tuple[int, ...]:
    """The ids that end a report: the generation's ``eos_token_id`` (one or a list), else the tokenizer's."""
    eos = gen_kwargs.get("eos_token_id", tokenizer.eos_token_id)
    return tuple(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None)


def report_length(ids: Sequence[int], eos: Sequence[int]) -> int:
    """How many of ``ids`` belong to the report: those before the first EOS (all of them without one)."""
    return next((n for n, t in enumerate(ids) if t in eos), len(ids))


def until_eos(rows: Sequence[Sequence[int]], eos: Sequence[int]) -> list[list[int]]:
    """Each row's ids up to (not including) its first EOS."""
    return [list(row[:report_length(row, eos)]) for row in rows]
