"""Every ``radzoo ...`` command line in README.md and in every command's ``--help`` runs as written.

Where lines come from (a new doc line is picked up by itself):
- README.md fenced code blocks: a line starting with ``radzoo`` (or with it after ``&&``, ``|`` or
  ``.venv/bin/``), cut at a ``#`` comment or the next ``&&``/``|``/``;``;
- README.md inline code spans starting with ``radzoo `` (they may wrap across lines);
- every command's module docstring (its ``--help`` description) and every parser's epilog (its examples):
  backticked spans starting with ``radzoo ``, and otherwise ``radzoo <command> ...`` to the end of the
  line, cut before a ``(parenthetical)`` or a ``#`` comment.

What is not run, each by an explicit rule (every such line is listed in the test's output):
- SYNOPSIS: a usage pattern with placeholders: an upper-case word (``RECIPE``, ``DIR``,
  ``FORMAT[:PATH]``), ``...``, or an ``[--optional]`` bracket. Not runnable as written.
- REFERENCE: just ``radzoo COMMAND`` or ``radzoo COMMAND ACTION`` naming a command in prose; checked to
  name a real command (and action), not run.
- EXTERNAL: a line with an argument under one of ``EXTERNAL_PREFIXES``: real data or published weights
  that an offline checkout does not have. It is parsed by the real parser (so an option typo still
  fails), not run. **To mark a new line as needing external files, write its paths under one of these
  prefixes** (``/data/...`` for data sets, ``/weights/...`` for weights), or add a prefix here with why.
  DOWNLOADED: a folder an ``hf download ... --local-dir DIR`` line of the README writes (a published release
  the hub would give) is external too, and so is the ``--out`` of a line that reads one (an imported run),
  in document order.
- COVERED_ELSEWHERE: a line another test runs at a tiny size (the test checks that it does).
- NOT_RUN_COMMANDS: commands that do not end by themselves (a server); parsed, not run.

Everything else runs in-process (``radzoo.cli.main``), in document order (README first, then the
``--help`` examples) in one temporary folder, so the files a line writes (``data/synthetic``,
``runs/llava-rad``, ``preds.jsonl``) are the ones later lines read, and each must exit 0.

Size: with ``RADZOO_DOCS_TINY=1`` (the default) the lines run small: every recipe-running command gets
``TINY_OVERRIDES`` appended (2 steps per stage, 8 new tokens), ``data synth --n`` is capped at
``TINY_STUDIES``, and the cached default synthetic set has ``TINY_STUDIES`` studies at 64 px.
``RADZOO_DOCS_TINY=0`` runs every line exactly as written (slow: full demo-size training).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from radzoo.cli import COMMANDS, _parser, main

pytestmark = pytest.mark.slow  # runs every README command (training and comparisons among them)

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = os.environ.get("RADZOO_DOCS_TINY", "1") != "0"
TINY_STUDIES = 60
TINY_OVERRIDES = ["trainer.max_steps_per_stage=2", "generation.max_new_tokens=8"]
RECIPE_COMMANDS = {"train", "compare", "generate", "build"}  # commands that take recipe overrides

# paths meaning "files an offline checkout does not have" (see the module doc)
EXTERNAL_PREFIXES = ("/data/", "/weights/")
# line -> the test that runs it (at a tiny size); checked to contain the given text
COVERED_ELSEWHERE = {
    "radzoo demo --out radzoo-demo": ("tests/comparison/test_demo.py", 'main(["demo", "--out"'),
}
NOT_RUN_COMMANDS = {"serve": "a server runs until stopped; its own tests start it and query it with a client"}

PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(?:[\[\]:.=A-Z_]*)$")


@dataclass(frozen=True)
class DocLine:
    text: str
    where: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)[1:]


# ------------------------------------------------------------------------------------------- extraction
def _cut(command: str) -> str:
    for stop in (" #", "&&", " | ", ";", " ("):
        command = command.split(stop)[0]
    return " ".join(command.split())


def readme_lines(text: str) -> list[DocLine]:
    """Command lines of README.md: fenced code lines and inline code spans, in document order."""
    found: list[tuple[int, str]] = []
    for block in re.finditer(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in re.finditer(r"[^\n]+", block.group(1)):
            start = block.start(1) + line.start()
            for match in re.finditer(r"(?:^|&&|\||\.venv/bin/)\s*(radzoo\s.*)", line.group()):
                found.append((start + match.start(1), _cut(match.group(1))))
    prose = re.sub(r"^```.*?^```", lambda m: " " * len(m.group()), text, flags=re.MULTILINE | re.DOTALL)
    for span in re.finditer(r"`(radzoo\s[^`]+)`", prose):
        found.append((span.start(), " ".join(span.group(1).split())))
    return _unique([DocLine(line, f"README.md:{text.count(chr(10), 0, at) + 1}") for at, line in sorted(found)])


def help_texts() -> list[tuple[str, str]]:
    """(where, text) of every command's docstring (its --help description) and every parser's epilog."""
    texts = []
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        texts.append((f"radzoo {name} --help", importlib.import_module(f"radzoo.commands.{COMMANDS[name]}").__doc__))
        parsers = [parser] + [p for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                              for p in a.choices.values()]
        texts += [(f"radzoo {name} --help", p.epilog) for p in parsers if p.epilog]
        texts += [(f"radzoo {name} --help", p.description) for p in parsers[1:] if p.description]
    return [(where, text) for where, text in texts if text]


def help_lines() -> list[DocLine]:
    """Command lines in the --help texts: backticked spans, then ``radzoo <command> ...`` to the line's end."""
    found = []
    for where, text in help_texts():
        for span in re.finditer(r"`(radzoo\s[^`]+)`", text):
            found.append(DocLine(" ".join(span.group(1).split()), where))
        bare = re.sub(r"`[^`]*`", " ", text)
        for match in re.finditer(r"(?:^|\s)(radzoo\s+(?:--\S+\s+)*[a-z][^\n]*)", bare, re.MULTILINE):
            found.append(DocLine(_cut(match.group(1)), where))
    return _unique(found)


def _unique(lines: list[DocLine]) -> list[DocLine]:
    seen: set[str] = set()
    return [line for line in lines if not (line.text in seen or seen.add(line.text))]


# ------------------------------------------------------------------------------------------- the rules
def is_synopsis(line: DocLine) -> bool:
    return any("..." in word or word.startswith("[") or PLACEHOLDER.match(word) for word in line.text.split()[1:])


def is_reference(line: DocLine) -> bool:
    argv = line.argv
    return 1 <= len(argv) <= 2 and not any(word.startswith("-") or "=" in word or "/" in word for word in argv)


def _path_words(text: str) -> list[str]:
    return [word.rstrip("/") for word in re.split(r"[\s=:]", text) if word]


def _out(argv: list[str]) -> str | None:
    return argv[argv.index("--out") + 1].rstrip("/") if "--out" in argv[:-1] else None


def downloaded_inputs(text: str) -> dict[str, list[str]]:
    """DOWNLOADED (see the module doc), in document order: README line -> the downloaded paths it reads.

    ``hf download`` folders count as written (``./llava-rad``, never a bare recipe name); a line reading one makes
    its ``--out`` downloaded too, and a later runnable line writing the same ``--out`` makes it local again."""
    downloaded = {m.group(1).rstrip("/") for m in re.finditer(r"hf download \S+ --local-dir (\S+)", text)}
    reads = {}
    for line in readme_lines(text):
        out = _out(line.argv)
        inputs = [w for w in _path_words(line.text) if w in downloaded and w != out]
        if inputs:
            reads[line.text] = inputs
            downloaded |= {out} if out else set()
        elif out and not any(w.startswith(EXTERNAL_PREFIXES) for w in _path_words(line.text)):
            downloaded.discard(out)
    return reads




def external_paths(line: DocLine) -> list[str]:
    """The line's inputs that an offline checkout lacks: real data or weights, or a downloaded release."""
    downloaded = DOWNLOADED.get(line.text, []) if line.where.startswith("README") else []
    return [word for word in _path_words(line.text) if word.startswith(EXTERNAL_PREFIXES)] + downloaded


DOWNLOADED = downloaded_inputs(README.read_text(encoding="utf-8"))


def kind_of(line: DocLine) -> str:
    if is_synopsis(line):
        return "synopsis"
    if line.text in COVERED_ELSEWHERE:
        return "covered elsewhere"
    if is_reference(line):
        return "reference"
    if external_paths(line):
        return "external"
    if line.argv and line.argv[0] in NOT_RUN_COMMANDS:
        return "not run"
    return "run"


def all_lines() -> list[DocLine]:
    return _unique(readme_lines(README.read_text(encoding="utf-8")) + help_lines())


def tiny_argv(argv: list[str]) -> list[str]:
    """The line's arguments at the tiny size (see the module doc); unchanged when RADZOO_DOCS_TINY=0."""
    if not TINY:
        return argv
    argv = list(argv)
    if argv[:2] == ["data", "synth"] and "--n" in argv:
        at = argv.index("--n") + 1
        argv[at] = str(min(int(argv[at]), TINY_STUDIES))
    if argv[0] in RECIPE_COMMANDS:
        argv += TINY_OVERRIDES
    return argv


# ------------------------------------------------------------------------------------------- the tests
def test_the_docs_have_command_lines_and_each_falls_under_one_rule():
    lines = all_lines()
    kinds = {line.text: kind_of(line) for line in lines}
    readme = {line.text for line in readme_lines(README.read_text(encoding="utf-8"))}
    # the README's step-by-step block and the --help examples are found, not only the top block
    assert {"radzoo train demo/llava-rad --out runs/llava-rad data.path=data/synthetic",
            "radzoo evaluate --predictions preds.jsonl --metrics bleu,rouge_l,cider,chexpert --out metrics.json",
            } <= readme
    assert "radzoo evaluate --predictions preds.jsonl --metrics bleu,rouge_l,chexpert --out metrics.json" in {
        line.text for line in help_lines()}
    assert sum(kind == "run" for kind in kinds.values()) >= 10, kinds
    for line in lines:
        if kinds[line.text] == "external":
            assert all(path.startswith(EXTERNAL_PREFIXES) or path in DOWNLOADED.get(line.text, [])
                       for path in external_paths(line))
    read = {path for paths in DOWNLOADED.values() for path in paths}
    assert {"./llava-rad", "./vicuna-7b-v1.5", "runs/llava-rad-published"} <= read
    assert not read & {"runs/llava-rad", "preds.jsonl"}  # written again by runnable lines before they are read
    for text, (test_file, needle) in COVERED_ELSEWHERE.items():
        assert text in kinds, f"{text!r} is no longer in the docs: drop it from COVERED_ELSEWHERE"
        assert needle in (README.parent / test_file).read_text(encoding="utf-8"), f"{test_file} no longer runs {text}"


def test_references_name_real_commands():
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for line in all_lines():
        if kind_of(line) != "reference":
            continue
        name, *action = line.argv
        assert name in commands, f"{line.where}: `{line.text}` names no radzoo command"
        actions = [a for a in commands[name]._actions if isinstance(a, argparse._SubParsersAction)
                   or (a.choices and not a.option_strings)]
        if action:
            assert any(action[0] in a.choices for a in actions), f"{line.where}: `{line.text}`: no such action"


def test_lines_not_run_still_parse():
    """External and never-ending lines are not run, but their options must exist as written."""
    for line in all_lines():
        if kind_of(line) in ("external", "not run", "covered elsewhere"):
            try:
                _parser().parse_args(line.argv)
            except SystemExit as exc:
                pytest.fail(f"{line.where}: `{line.text}` does not parse (exit {exc.code})")


def test_every_doc_line_runs(tmp_path: Path, monkeypatch, capsys):
    """Runs each line in order in one folder; all failures are reported together with their output tails."""
    from radzoo.data.readers import synthetic_set

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RADZOO_CACHE", str(tmp_path / "cache"))
    if TINY:
        monkeypatch.setitem(synthetic_set.OPTIONS, "n", TINY_STUDIES)
        monkeypatch.setitem(synthetic_set.OPTIONS, "image_size", 64)
    failures, skipped = [], []
    for line in all_lines():
        kind = kind_of(line)
        if kind != "run":
            skipped.append(f"{kind:>17}: {line.text}  ({line.where})")
            continue
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(tiny_argv(line.argv))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
        if code != 0:
            failures.append(f"{line.where}: `{line.text}` exited {code}:\n{(out.getvalue() + err.getvalue())[-1500:]}")
    with capsys.disabled():
        print("\ndoc lines not run:\n" + "\n".join(skipped))
    assert not failures, "\n\n".join(failures)
    assert (tmp_path / "runs" / "llava-rad" / "model.safetensors").is_file()
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "labels.csv").is_file()
