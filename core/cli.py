"""The ``radzoo`` command: parses arguments and calls the library; each subcommand lives in radzoo.commands."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

# subcommand -> module in radzoo.commands defining add_arguments(parser) and run(args) -> int
COMMANDS = {
    "plugins": "plugins",
    "recipe": "recipe",
    "build": "build",
    "data": "data",
    "train": "train",
    "generate": "generate",
    "export": "export",
    "evaluate": "evaluate",
    "label": "label",
    "compare": "compare",
    "demo": "demo",
    "serve": "serve",
}

# errors a user can fix: printed as one line (the traceback only with --debug)
USER_ERRORS = (ValueError, LookupError, FileNotFoundError, PermissionError, TypeError, OSError)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radzoo", description="A model zoo for chest X-ray report generation.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"radzoo.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"radzoo.commands.{module_name}":
                continue  # a command not built yet
            raise
        doc = (module.__doc__ or "").strip().splitlines()
        cmd = sub.add_parser(name, help=doc[0] if doc else None, description=" ".join(doc) or None)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _one_line_warnings(command: str) -> Callable[..., None]:
    """A ``warnings.showwarning`` printing radzoo's own warnings as ``radzoo CMD: warning: ...`` (one line)."""
    plugins = importlib.util.find_spec("radzoo.plugins")
    roots = [Path(__file__).resolve().parent, *(Path(p).resolve() for p in plugins.submodule_search_locations or ())]
    default = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if not any(Path(filename).resolve().is_relative_to(root) for root in roots):
            default(message, category, filename, lineno, file, line)
            return
        print(f"radzoo {command}: warning: {' '.join(str(message).split())}", file=file or sys.stderr)

    return show


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (tests swap it)."""

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _show_radzoo_logs() -> None:
    """radzoo's progress lines and warnings (logger ``radzoo.*``) go to stderr as plain lines."""
    logger = logging.getLogger("radzoo")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("RADZOO_DEBUG") == "1"
    _show_radzoo_logs()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command)
            return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("radzoo: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if debug:
            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"radzoo {args.command}: error: {message}", file=sys.stderr)
        if not debug:
            print("(run with --debug for the full traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
