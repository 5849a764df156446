"""radzoo's own import structure: no cycles, and every function-level import of radzoo says why it is there.

Pure AST over core/ and plugins/ (nothing is imported), so this runs in well under a second.
"""

from __future__ import annotations

import ast
import functools
import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = {"radzoo": ROOT / "core", "radzoo.plugins": ROOT / "plugins"}


def module_files() -> dict[str, Path]:
    """Every radzoo module name -> its source file (core/ -> radzoo, plugins/ -> radzoo.plugins)."""
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def imported_modules(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The radzoo modules an import statement loads (`from radzoo.a import b` is radzoo.a.b when b is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: resolve against the importing module's package
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    targets = []
    for name in names:
        while name and name not in known:  # `import radzoo.a.b as c` of a non-module attribute: its module
            name = name.rpartition(".")[0]
        if name.startswith("radzoo") and name not in targets:
            targets.append(name)
    return targets


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: module and class bodies, not functions or TYPE_CHECKING."""
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        elif isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
        else:
            todo.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return found


def function_imports(tree: ast.Module) -> list[list[ast.Import | ast.ImportFrom]]:
    """Imports inside functions, grouped per function into runs of adjacent import lines."""
    groups = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nested = {id(n) for inner in ast.walk(function) if inner is not function
                  and isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(inner)}
        imports = sorted((n for n in ast.walk(function) if isinstance(n, (ast.Import, ast.ImportFrom))
                          and id(n) not in nested), key=lambda n: n.lineno)
        for node in imports:
            if groups and groups[-1][-1] in imports and node.lineno == groups[-1][-1].end_lineno + 1:
                groups[-1].append(node)
            else:
                groups.append([node])
    return groups


def comment_lines(source: str) -> set[int]:
    """Line numbers that carry a `#` comment."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {token.start[0] for token in tokens if token.type == tokenize.COMMENT}


def has_reason(group: list[ast.Import | ast.ImportFrom], node: ast.AST, comments: set[int], lines: list[str]) -> bool:
    """A comment on the import's line, on its group's first line, or alone on the line above the group."""
    first = group[0].lineno
    above = lines[first - 2].strip() if first > 1 else ""
    return node.lineno in comments or first in comments or above.startswith("#")


@functools.cache  # both tests read the same scan
def import_structure() -> tuple[dict[str, set[str]], list[tuple[str, int, bool, str]]]:
    """(module -> radzoo modules it imports at import time, [(file, line, has a reason, statement)]).

    A function-level import of radzoo has a reason when its own first line, or the first line of the run of
    adjacent imports it belongs to in that function, carries a comment, or a comment line stands just above that run.
    """
    modules = module_files()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    rows = []
    for module, path in modules.items():
        source = path.read_text()
        tree = ast.parse(source)
        is_package = path.name == "__init__.py"
        graph[module] = {target for node in top_level_imports(tree)
                         for target in imported_modules(node, module, is_package, known)} - {module}
        lines, comments = source.splitlines(), None
        for group in function_imports(tree):
            for node in group:
                if imported_modules(node, module, is_package, known):
                    comments = comment_lines(source) if comments is None else comments
                    rows.append((str(path.relative_to(ROOT)), node.lineno, has_reason(group, node, comments, lines),
                                 lines[node.lineno - 1].strip()))
    return graph, rows


@functools.cache
def full_import_graph() -> dict[str, set[str]]:
    """module -> every radzoo module it imports anywhere: at import time and inside functions."""
    modules = module_files()
    known = set(modules)
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        graph[module] = {target for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                         for target in imported_modules(node, module, path.name == "__init__.py", known)} - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_module_import_graph_has_no_cycle():
    graph, _ = import_structure()
    assert len(graph) > 100 and graph["radzoo.cli"], "the scan found too few modules: is ROOT right?"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_cycle_hides_behind_a_function_level_import():
    """A deferred import keeps start-up fast; it must not be what keeps two modules from importing each other."""
    cycle = find_cycle(full_import_graph())
    assert cycle is None, "import cycle through a function-level import: " + " -> ".join(cycle)


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """radzoo.<package> -> the other radzoo packages its modules import (top-level modules count as their own)."""
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(package(module), set()).update(package(t) for t in targets)
    return {name: targets - {name} for name, targets in packages.items()}


def test_packages_import_each_other_one_way_only():
    """Data flows one way between packages too: recipe never imports back from model, data never from a client."""
    cycle = find_cycle(package_graph(full_import_graph()))
    assert cycle is None, "package cycle: " + " -> ".join(cycle)


def test_a_package_cycle_is_found():
    graph = {"radzoo.a.x": {"radzoo.b.y"}, "radzoo.b.y": set(), "radzoo.b.z": {"radzoo.a"}, "radzoo.a": set()}
    assert find_cycle(package_graph(graph)) == ["radzoo.a", "radzoo.b", "radzoo.a"]


def test_core_imports_nothing_from_the_built_in_plugins():
    """The built-in plugins are replaceable: core reaches them only through the registry (entry points)."""
    reaching = sorted(f"{module} -> {target}" for module, targets in full_import_graph().items()
                      if not module.startswith("radzoo.plugins") for target in targets
                      if target.startswith("radzoo.plugins"))
    assert not reaching, "core imports built-in plugin modules; go through the registry:\n" + "\n".join(reaching)


def test_a_cycle_is_found_and_printed():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_every_function_level_import_of_radzoo_says_why():
    _, rows = import_structure()
    unexplained = [f"{file}:{line}: {statement}" for file, line, has_reason, statement in rows if not has_reason]
    assert not unexplained, ("function-level imports of radzoo need a one-line reason comment (optional "
                             "dependency, start-up time or cycle), or move them to the top:\n" + "\n".join(unexplained))


def test_a_reason_counts_on_the_line_on_the_first_of_a_run_or_just_above():
    source = ("def f():\n    from radzoo.a import b  # why\n    from radzoo.c import d\n\n    from radzoo.e import f\n"
              "def g():\n    # why\n    from radzoo.a import b\n    x = 1\n    from radzoo.c import d\n")
    tree, lines, comments = ast.parse(source), source.splitlines(), comment_lines(source)
    found = {node.lineno: has_reason(group, node, comments, lines)
             for group in function_imports(tree) for node in group}
    assert found == {2: True, 3: True, 5: False, 8: True, 10: False}


def test_relative_and_submodule_imports_resolve_to_modules():
    known = {"radzoo", "radzoo.a", "radzoo.a.b", "radzoo.a.c"}
    tree = ast.parse("from radzoo.a import b, x\nfrom . import c\nfrom .b import y\nimport radzoo.a.b.z")
    targets = [imported_modules(node, "radzoo.a.c", False, known) for node in tree.body]
    assert targets == [["radzoo.a.b", "radzoo.a"], ["radzoo.a.c"], ["radzoo.a.b"], ["radzoo.a.b"]]
