"""Ctrl-C during training: the first one finishes the current optimizer step, checkpoints and stops cleanly.

Lightning turns a KeyboardInterrupt inside ``fit`` into ``sys.exit(1)`` with no checkpoint of the steps done since
the last one. ``GracefulInterrupt`` defers SIGINT while ``deferring`` is on (inside a single-process fit) so the
step loop can save and stop; a second Ctrl-C, or one outside that window, interrupts at once as usual.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any


class GracefulInterrupt:
    """Context manager installing the SIGINT handler (main thread only); ``requested`` after the first Ctrl-C."""

    def __init__(self) -> None:
        self.requested = False
        self.deferring = False
        self._previous: Any = None

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested or not self.deferring:
            raise KeyboardInterrupt
        self.requested = True
        # print, not logging: a signal handler may run while the interrupted code holds the logging lock
        print("\nradzoo: Ctrl-C: stopping after this step with a checkpoint (Ctrl-C again to abort at once)",
              file=sys.stderr, flush=True)
