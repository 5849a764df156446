"""Built-in plugins use radzoo only through the documented plugin-support surface (docs/ARCHITECTURE.md).

Third-party plugins are written against the same surface, so a built-in that reaches deeper would be using
something a third party cannot rely on.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the modules docs/ARCHITECTURE.md lists under "The plugin-support surface"
SURFACE = {"radzoo", "radzoo.errors", "radzoo.progress", "radzoo.components.registry", "radzoo.files.weights",
           "radzoo.files.torch_files", "radzoo.files.atomic", "radzoo.model.chat_formats", "radzoo.data.synthetic",
           "radzoo.data.vqa_questions"}


def radzoo_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a radzoo module outside radzoo.plugins in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        found += [(node.lineno, n) for n in names if n.split(".")[0] == "radzoo" and not n.startswith("radzoo.plugins")]
    return found


def test_built_in_plugins_import_only_the_plugin_support_surface() -> None:
    outside = [f"{path.relative_to(ROOT)}:{line} imports {module}"
               for path in sorted((ROOT / "plugins").rglob("*.py")) for line, module in radzoo_imports(path)
               if module not in SURFACE]
    assert not outside, "document the module in docs/ARCHITECTURE.md's plugin-support surface, or use one there:\n" \
        + "\n".join(outside)


def test_the_surface_is_the_one_the_architecture_page_documents() -> None:
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = page.split("### The plugin-support surface", 1)[1].split("\n#", 1)[0]
    assert {m for m in SURFACE if m != "radzoo"} <= set(re.findall(r"`(radzoo\.[\w.]+)`", section))


def test_the_scan_sees_a_deep_import(tmp_path) -> None:
    plugin = tmp_path / "p.py"
    plugin.write_text("from radzoo.training.pipeline import train\nfrom radzoo.errors import InputError\n")
    assert radzoo_imports(plugin) == [(1, "radzoo.training.pipeline"), (2, "radzoo.errors")]
