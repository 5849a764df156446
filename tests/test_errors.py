"""Errors a user can fix print as one line; a bug (a plugin's own TypeError or OSError) prints its traceback."""

from __future__ import annotations

import ast
import errno
from pathlib import Path

import pytest

from radzoo import errors
from radzoo.cli import main
from radzoo.commands import recipe as recipe_command

ROOT = Path(__file__).resolve().parents[1]
# builtins that mean "the user's input is wrong" when radzoo raises them: radzoo raises its own subclasses instead
USER_BUILTINS = {"ValueError", "FileNotFoundError", "FileExistsError", "LookupError", "RuntimeError", "OSError",
                 "PermissionError", "ConnectionError"}
# a caller's programming error (not reachable from a recipe or the CLI): the builtin is right there
CALLER_ERRORS = {("core/model/vlm.py", "encode_images"), ("core/evaluation/statistics.py", "paired_bootstrap_test"),
                 ("plugins/evaluators/cider_d.py", "cider_d_scores")}


def failing_command(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def run(_args: object) -> int:
        raise exc

    monkeypatch.setattr(recipe_command, "run", run)


@pytest.mark.parametrize("exc", [errors.InputError("data.path x: not found; set data.path"),
                                 errors.MissingFileError("data.path x: not found; set data.path"),
                                 PermissionError(errno.EACCES, "Permission denied", "out/metrics.json")])
def test_user_errors_are_one_line(monkeypatch, capsys, exc) -> None:
    failing_command(monkeypatch, exc)
    code = main(["recipe", "list"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[0] == f"radzoo recipe: error: {' '.join(str(exc).split())}"


@pytest.mark.parametrize("exc", [TypeError("build() got an unexpected keyword argument 'dim'"),
                                 FileNotFoundError(errno.ENOENT, "No such file", "/opt/plugin/vocab.txt"),
                                 ValueError("too many values to unpack (expected 2)")])
def test_bugs_print_the_traceback_and_ask_for_a_report(monkeypatch, capsys, exc) -> None:
    failing_command(monkeypatch, exc)
    code = main(["recipe", "list"])
    err = capsys.readouterr().err
    assert code == 70 and "Traceback (most recent call last)" in err and str(exc) in err
    assert err.strip().splitlines()[-1].startswith(f"radzoo recipe: internal error ({type(exc).__name__}): this is "
                                                   "a bug in radzoo or in a plugin it loaded")


def test_user_errors_still_are_the_builtins_callers_catch() -> None:
    assert issubclass(errors.RecipeError, ValueError) and issubclass(errors.MissingFileError, FileNotFoundError)
    assert issubclass(errors.UnknownNameError, LookupError) and issubclass(errors.ContractError, TypeError)
    from radzoo.components.registry import RegistryError
    from radzoo.recipe.load import RecipeError

    assert RecipeError is errors.RecipeError and issubclass(RegistryError, errors.RadzooError)


def builtin_raises(path: Path):
    """(function name, exception name, line) of each ``raise Builtin(...)`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name) and node.exc.func.id in USER_BUILTINS):
                yield func.name, node.exc.func.id, node.lineno


def test_radzoo_raises_its_own_user_error_types() -> None:
    """A user-facing ``raise ValueError`` would print a traceback and a bug report: raise radzoo.errors types."""
    found = []
    for path in sorted([*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]):
        where = path.relative_to(ROOT).as_posix()
        found += [f"{where}:{line} {name}() raises {exc}" for name, exc, line in builtin_raises(path)
                  if (where, name) not in CALLER_ERRORS]
    hint = "use radzoo.errors (InputError, MissingFileError, ...) for errors a user can fix:\n"
    assert not found, hint + "\n".join(found)


def test_a_plugin_factorys_own_bug_reaches_the_user_with_its_traceback(monkeypatch, capsys) -> None:
    """The factory takes the recipe's args (no recipe error) and then fails in its own code: that is a bug."""
    from test_plugins import adds, plugin_module, use_plugins

    def buggy_encoder(image_size: int = 64):
        return len(image_size)  # the plugin's own TypeError

    use_plugins(monkeypatch, plugin_module("buggy_plugin", radzoo_register_encoders=adds("buggy-encoder",
                                                                                        factory=buggy_encoder)))
    code = main(["build", "demo/llava-rad", "encoder.name=buggy-encoder", "encoder.args={image_size: 32}",
                 "--no-smoke"])
    err = capsys.readouterr().err
    assert code == 70 and "in buggy_encoder" in err and "TypeError: object of type 'int' has no len()" in err
    assert "radzoo build: internal error (TypeError): this is a bug" in err and "radzoo build: error:" not in err
