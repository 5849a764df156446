"""Progress lines with a rate and an ETA for long loops (generation, judge calls), throttled to one per interval."""

from __future__ import annotations

import time
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """``advance(n)`` after each unit of work; logs "label: done/total (pct), rate/s, ETA h:mm:ss".

    The first and the last step always log; in between at most one line per ``every_s`` seconds, so a long run
    shows it is alive without flooding the log.
    """

    def __init__(self, total: int, label: str, log: Callable[[str], None], unit: str = "items",
                 every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.label, self.log, self.unit = total, label, log, unit
        self.every_s, self.clock = every_s, clock
        self.done = 0
        self.started = clock()
        self._last_log: float | None = None

    def line(self) -> str:
        elapsed = self.clock() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = format_duration((self.total - self.done) / rate) if rate > 0 else "?"
        share = 100.0 * self.done / self.total if self.total else 100.0
        return (f"{self.label}: {self.done}/{self.total} {self.unit} ({share:.0f}%), {rate:.2f} {self.unit}/s, "
                f"elapsed {format_duration(elapsed)}, ETA {eta}")

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more finished units and log a progress line when one is due."""
        self.done += n
        now = self.clock()
        due = self._last_log is None or self.done >= self.total or now - self._last_log >= self.every_s
        if due:
            self._last_log = now
            self.log(self.line())
