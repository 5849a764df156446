"""Peak memory of a phase: CUDA's allocator peak on a GPU, sampled resident set size on CPU."""

from __future__ import annotations

import os
import threading
import time
from types import TracebackType

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class PeakMemory:
    """``with PeakMemory() as m: ...`` then ``m.peak_mb``: the highest RSS (or CUDA allocation) seen inside.

    ru_maxrss would report the whole process's lifetime peak, so the CPU figure is sampled instead.
    """

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cuda = False

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakMemory:
        import torch

        self._cuda = torch.cuda.is_available()
        if self._cuda:
            torch.cuda.reset_peak_memory_stats()
        self.peak_bytes = current_rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        import torch

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, current_rss_bytes())
        if self._cuda:
            self.peak_bytes = int(torch.cuda.max_memory_allocated())

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def device(self) -> str:
        return "cuda" if self._cuda else "cpu-rss"
