"""Every message radzoo raises, logs or prints is formatted: no ``{name}`` placeholder reaches the user as is
(a missing ``f`` prefix printed "run `radzoo compare ... --out {out_dir}` first")."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{[A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:![rsa])?(?::[^{}]*)?\}")
MESSAGE_CALLS = {"print", "info", "warning", "error", "debug", "exception", "warn"}


def _message_calls(tree: ast.AST):
    """Calls whose string arguments reach a user: exception constructors in ``raise``, logging and print."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            yield node.exc
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in MESSAGE_CALLS:
                yield node


def _plain_literals(segment: str) -> list[str]:
    """The non-f string literals of a source segment (each piece of an implicit concatenation on its own)."""
    tokens = tokenize.generate_tokens(io.StringIO(segment).readline)
    return [t.string for t in tokens if t.type == tokenize.STRING
            and "f" not in t.string[:t.string.index(t.string[-1])].lower()]


def unformatted(source: str) -> list[tuple[int, str]]:
    """(line, literal) of plain (not f-) string literals with a ``{placeholder}`` in a message call's arguments,
    unless the argument formats them itself (``.format(``)."""
    found = []
    for call in _message_calls(ast.parse(source)):
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            segment = ast.get_source_segment(source, arg) or ""
            if ".format(" in segment:
                continue
            found += [(arg.lineno, text) for text in _plain_literals(segment) if PLACEHOLDER.search(text)]
    return found


def test_no_message_carries_an_unfilled_placeholder():
    problems = []
    for folder in ("core", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, text in unformatted(path.read_text(encoding="utf-8")):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {text!r} (missing f prefix?)")
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_missing_f_prefix():
    source = 'def f(out_dir):\n    raise ValueError(f"{out_dir}: no runs; " "run `radzoo compare --out {out_dir}`")\n'
    assert [line for line, _ in unformatted(source)] == [2]
    assert unformatted('def f(x):\n    raise ValueError(f"{x} " f"and {x}")\n') == []
    assert unformatted('log.info("%s done", name)\n') == []
