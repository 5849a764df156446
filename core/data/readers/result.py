"""What a reader returns: the studies plus every skipped record, counted per reason."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from radzoo.data.study import Study
from radzoo.errors import InputError

log = logging.getLogger("radzoo.data")


class DataProblem(InputError):
    """A record that cannot be used, raised in strict mode (or collected in the default mode)."""


@dataclass
class ReadResult:
    """``studies`` read; ``skipped`` maps reason -> [(where, detail)] for unusable records; ``filtered``
    counts records left out on purpose (other split, lateral view, ...); ``other_splits`` the studies of each
    split a split filter left out (so an empty selection can say where the studies are)."""

    studies: list[Study] = field(default_factory=list)
    skipped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    filtered: Counter = field(default_factory=Counter)
    other_splits: Counter = field(default_factory=Counter)

    def skipped_items(self) -> list[tuple[str, str]]:
        """(study id or record, "reason: detail") of every skipped record, for a run's left-out list."""
        return [(where.removeprefix("study "), f"{reason}: {detail}")
                for reason, items in sorted(self.skipped.items()) for where, detail in items]

    def skip_counts(self) -> dict[str, int]:
        """Reason -> number of skipped records."""
        return {reason: len(items) for reason, items in sorted(self.skipped.items())}

    def split_counts(self) -> dict[str, int]:
        """Split -> number of studies."""
        return dict(sorted(Counter(s.split for s in self.studies).items()))


class SkipLog:
    """Collects problems per reason; with ``strict`` the first problem raises instead."""

    def __init__(self, result: ReadResult, strict: bool, source: str) -> None:
        self.result, self.strict, self.source = result, strict, source

    def problem(self, reason: str, where: str, detail: str) -> None:
        """Record (or, when strict, raise) an unusable record."""
        if self.strict:
            raise DataProblem(f"{self.source}: {where}: {detail} [{reason}]; fix the data, or set "
                              "data.options.strict=false to skip such records with a count")
        self.result.skipped.setdefault(reason, []).append((where, detail))

    def filtered(self, reason: str) -> None:
        """Count a record left out on purpose (not an error)."""
        self.result.filtered[reason] += 1

    def warn_summary(self) -> None:
        """One warning line listing skipped counts per reason, with an example of each."""
        if not self.result.skipped:
            return
        parts = [f"{reason}: {len(items)} (e.g. {items[0][0]}: {items[0][1]})"
                 for reason, items in sorted(self.result.skipped.items())]
        count = sum(len(v) for v in self.result.skipped.values())
        log.warning("%s: skipped %d record%s -- %s", self.source, count, "" if count == 1 else "s", "; ".join(parts))
