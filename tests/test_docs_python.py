"""Every Python name and snippet the docs show works: README.md, docs/*.md and the package docstrings.

- NAMES: each backticked dotted name ``radzoo.x.y`` and each ``from radzoo.x import a, b`` resolves, as Python
  resolves it (import the longest module prefix, then attributes).
- ATTRIBUTES: after a plain ``import radzoo`` (a fresh interpreter), ``radzoo.NAME`` for every name the docs show
  on the package itself, and ``radzoo.<stage>.pipeline`` for each stage, work without importing submodules first.
- SNIPPETS: every ```python block of README.md and docs/ runs in a fresh interpreter, except those EXTERNAL
  (a running server), whose import lines still run.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# snippet -> why it is not run as a whole (its imports still are): it needs what an offline checkout lacks
EXTERNAL = {"OpenAI(base_url=": "talks to a running `radzoo serve`; tests/serving/ run the same client against one"}
PIPELINE_PACKAGES = ("training", "generation", "evaluation", "comparison")

DOTTED = re.compile(r"`(radzoo(?:\.[A-Za-z_]\w*)+)(?:\(\))?`")
FROM_IMPORT = re.compile(r"from (radzoo(?:\.\w+)*) import ([\w, ]+)")


def _docstrings() -> list[tuple[str, str]]:
    found = []
    for folder in ("core", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            if doc:
                found.append((str(path.relative_to(ROOT)), doc))
    return found


def _texts() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in DOCS] + _docstrings()


def documented_names() -> dict[str, str]:
    """Dotted name -> where the docs show it (``from radzoo.x import a`` gives ``radzoo.x.a``)."""
    names: dict[str, str] = {}
    for where, text in _texts():
        for match in DOTTED.finditer(text):
            names.setdefault(match.group(1), where)
        for match in FROM_IMPORT.finditer(text):
            for name in (n.split(" as ")[0].strip() for n in match.group(2).split(",")):
                if name:
                    names.setdefault(f"{match.group(1)}.{name}", where)
    return names


def resolve(dotted: str) -> object:
    """``radzoo.a.b.c`` as Python resolves it: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is None or not ".".join(parts[:cut]).startswith(exc.name):
                raise
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(f"{dotted}: no importable prefix")


def python_snippets() -> list[tuple[str, str]]:
    """(where, code) of every fenced python block in the docs."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in re.finditer(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            found.append((f"{path.name}:{text.count(chr(10), 0, block.start()) + 1}", block.group(1)))
    return found


def test_the_docs_show_names_and_imports():
    names = documented_names()
    assert {"radzoo.recipe.load_recipe", "radzoo.model.RadiologyVLM", "radzoo.train", "radzoo.generate",
            "radzoo.errors.InputError", "radzoo.hookimpl"} <= set(names), sorted(names)


@pytest.mark.parametrize("name", sorted(documented_names()))
def test_every_documented_name_resolves(name):
    try:
        assert resolve(name) is not None
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{documented_names()[name]} shows `{name}`, which does not resolve: {exc}")


def test_names_on_the_package_work_after_a_plain_import_radzoo():
    chains = sorted({n for n in documented_names() if n.count(".") == 1}
                    | {f"radzoo.{p}.pipeline.{f}" for p, f in zip(PIPELINE_PACKAGES,
                                                                    ("train", "generate", "evaluate", "compare"))})
    code = ("import functools, sys, radzoo\nfor chain in sys.argv[1:]:\n"
            "    functools.reduce(getattr, chain.split('.')[1:], radzoo)\nprint('ok')")
    done = subprocess.run([sys.executable, "-c", code, *chains], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_a_missing_name_is_caught():
    with pytest.raises(AttributeError):
        resolve("radzoo.recipe.no_such_function")
    with pytest.raises(ModuleNotFoundError):
        resolve("radzoo_missing.x")


def _snippet_params() -> list:
    """Snippets that build a model (generate, train, compare) take seconds: marked slow."""
    slow = re.compile(r"radzoo\.(generate|train|compare)\(")
    return [pytest.param(where, code, id=where, marks=[pytest.mark.slow] if slow.search(code) else [])
            for where, code in python_snippets()]


@pytest.mark.parametrize("where,code", _snippet_params())
def test_every_python_snippet_runs(where, code, tmp_path):
    external = [why for marker, why in EXTERNAL.items() if marker in code]
    if external:  # its imports still run: the names it uses exist
        code = "\n".join(line for line in code.splitlines() if re.match(r"(from \S+ )?import ", line))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, f"{where}: the snippet fails:\n{done.stderr[-2000:]}"
