"""The ``radzoo`` command: parses arguments and calls the library; each subcommand lives in radzoo.commands."""

from __future__ import annotations

import argparse
import difflib
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

from radzoo import __version__
from radzoo.errors import is_user_error

# the subcommands in --help order; each is a module in radzoo.commands with add_arguments(parser) and run(args)
COMMAND_NAMES = ("plugins", "recipe", "build", "data", "train", "generate", "export", "evaluate", "label", "compare",
                 "demo", "view", "import", "serve")
COMMANDS = {name: "import_cmd" if name == "import" else name for name in COMMAND_NAMES}  # `import` is a keyword

# errors a user can fix (radzoo.errors.RadzooError, a full disk, a missing permission) print as one line, the
# traceback only with --debug; anything else is a bug in radzoo or a plugin: traceback and a request to report it
BUG_EXIT = 70  # sysexits EX_SOFTWARE: 1 already means "a batch job left items out", 2 "an error you can fix"
# the exit status of every command, serve included (the README's table; tests/test_exit_codes.py holds each command
# to it)
EXIT_CODES = {
    0: "done",
    1: "a batch job finished but left items out (listed and counted; the rest is written): rerun to retry them",
    2: "an error you can fix (bad input, a typo, a missing file, a busy port), or a usage error",
    70: "a bug in radzoo or a plugin (the traceback is printed: please report it)",
    130: "stopped by Ctrl-C (finished work is kept: rerun to resume)",
    141: "the reader of the output went away (radzoo ... | head)",
}
BUG_REPORT = ("radzoo {command}: internal error ({kind}): this is a bug in radzoo or in a plugin it loaded, not in "
              "your input; please report it with the traceback above")


class _IntermixedParser(argparse.ArgumentParser):
    """A parser whose leaf commands take positionals (recipes, ``key=value`` overrides) before or after options.

    Plain argparse stops filling positionals at the first option, so ``train R --out D key=value`` failed;
    parsers that hold subcommands keep the plain parse (argparse cannot intermix them), and every subcommand
    parser, built from this class, parses intermixed.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls back into parse_known_args
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _first_sentence(doc: str) -> str | None:
    """A command's one-line summary for ``radzoo --help``: its docstring's first sentence, however it wraps."""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    return paragraph.split(". ")[0].rstrip(".") + "." if paragraph else None


def _check_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """A mistyped subcommand is answered with the close matches (argparse lists every choice)."""
    words = [w for w in argv if not w.startswith("-")]
    if words and words[0] not in COMMANDS:
        close = difflib.get_close_matches(words[0], COMMAND_NAMES, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        parser.error(f"no command {words[0]!r}.{hint} Commands: {', '.join(COMMAND_NAMES)}")


def _parser() -> argparse.ArgumentParser:
    parser = _IntermixedParser(prog="radzoo", description="A model zoo for chest X-ray report generation.")
    parser.add_argument("--version", action="version", version=f"radzoo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"radzoo.commands.{module_name}")
        doc = (module.__doc__ or "").strip()
        cmd = sub.add_parser(name, help=_first_sentence(doc), description=" ".join(doc.splitlines()) or None)
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


def _not_timm_channel_note(record: logging.LogRecord) -> bool:
    # 1-channel encoders load 1-channel weights; timm still notes its RGB default on every load
    return "declares 3 source channels" not in record.getMessage()


def _show_radzoo_logs() -> None:
    """radzoo's progress lines and warnings (logger ``radzoo.*``) go to stderr as plain lines."""
    timm_builder = logging.getLogger("timm.models._builder")
    if _not_timm_channel_note not in timm_builder.filters:
        timm_builder.addFilter(_not_timm_channel_note)
    logger = logging.getLogger("radzoo")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # each line once: a library that configures the root logger (logging.basicConfig) would print it again
    logger.propagate = False
    # transformers' "Loading weights" bars: progress is radzoo's own lines (read when transformers loads)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _run_until_pipe_closes(args: argparse.Namespace) -> int:
    """Run the command; a reader that stops early (``radzoo ... | head``) ends it quietly, as it does ``cat``."""
    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python would flush the dead stdout again at exit and print a traceback: point it at /dev/null
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's status for a command whose pipe closed


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    _check_command(parser, argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("RADZOO_DEBUG") == "1"
    _show_radzoo_logs()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command)
            return _run_until_pipe_closes(args)
    except KeyboardInterrupt:
        print("radzoo: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_user_error(exc):
            traceback.print_exc()
            print(BUG_REPORT.format(command=args.command, kind=type(exc).__name__), file=sys.stderr)
            return BUG_EXIT
        if debug:
            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"radzoo {args.command}: error: {message}", file=sys.stderr)
        if not debug:
            print("(run with --debug for the full traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
