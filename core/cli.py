"""The ``radzoo`` command: parses arguments and calls the library; each subcommand lives in radzoo.commands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("RADZOO_DEBUG") == "1"
    try:
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
