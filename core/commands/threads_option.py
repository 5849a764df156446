"""``--threads`` for the commands that run torch on the CPU (train, generate, compare), as the demo has it."""

from __future__ import annotations

import argparse

from radzoo.errors import InputError

DEFAULT_THREADS = 1  # bench: tiny models on 2 shared cores ran a short training in 11.8 s on 1 thread, 65.6 s on all


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (default 1; 0 leaves torch's default of one thread per core)."""
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, metavar="N",
                        help="torch CPU threads (default 1: small models gain little from more and lose much when "
                             "the cores are busy; 0 leaves torch's default, one per core)")


def thread_count(args: argparse.Namespace) -> int | None:
    """``--threads`` checked (negative is refused): the count radzoo.api sets torch to once the recipe and data are
    checked, or None for torch's default."""
    if args.threads < 0:
        raise InputError(f"--threads {args.threads}: give a number of threads, or 0 for torch's default")
    return args.threads or None
