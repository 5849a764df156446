"""Packaging: the wheel maps core/ -> radzoo, plugins/ -> radzoo.plugins, recipes/ -> radzoo.recipes.

The editable install (what the tests run on) must resolve to the checkout; the wheel must ship every
module and data file, and nothing at top level but ``radzoo``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# source folder -> where its files land in the wheel
LAYOUT = {"core": "radzoo", "plugins": "radzoo/plugins", "recipes": "radzoo/recipes"}
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", ".pytest_cache")


def test_editable_install_resolves_into_the_checkout():
    import radzoo
    import radzoo.plugins
    import radzoo.plugins.encoders
    import radzoo.recipes

    assert Path(radzoo.__file__).resolve() == REPO / "core" / "__init__.py"
    assert Path(radzoo.plugins.__file__).resolve() == REPO / "plugins" / "__init__.py"
    assert Path(radzoo.plugins.encoders.__file__).resolve().parent == REPO / "plugins" / "encoders"
    assert Path(radzoo.recipes.__file__).resolve() == REPO / "recipes" / "__init__.py"


def test_no_top_level_core_or_plugins_module_is_importable(tmp_path):
    for name in ("core", "plugins"):
        found = subprocess.run([sys.executable, "-c", f"import importlib.util as u; print(u.find_spec({name!r}))"],
                               cwd=tmp_path, capture_output=True, text=True, check=True)
        assert found.stdout.strip() == "None", f"a top-level {name!r} module is installed: {found.stdout}"


def _package_name(folder: Path) -> str:
    """The import name of a source folder, e.g. core/data/readers -> radzoo.data.readers."""
    root, *rest = folder.relative_to(REPO).parts
    return ".".join([*LAYOUT[root].split("/"), *rest])


def _source_packages() -> set[str]:
    return {_package_name(init.parent) for root in LAYOUT for init in (REPO / root).rglob("__init__.py")
            if "__pycache__" not in init.parts}


def _wheel_packages(names: set[str]) -> set[str]:
    return {n.removesuffix("/__init__.py").replace("/", ".") for n in names if n.endswith("/__init__.py")}


def _source_files(packages: set[str]) -> set[str]:
    """Every file of ``packages`` (modules and data) as its path inside the wheel."""
    source_packages = _source_packages()
    expected = set()
    for folder, target in LAYOUT.items():
        for path in (REPO / folder).rglob("*"):
            rel = path.relative_to(REPO / folder)
            if not path.is_file() or "__pycache__" in rel.parts or path.suffix == ".pyc":
                continue
            # the innermost package holding the file (a data folder such as recipes/demo belongs to its parent)
            owner = next(_package_name(d) for d in [path.parent, *path.parent.parents]
                         if _package_name(d) in source_packages)
            if owner in packages:
                expected.add(f"{target}/{rel.as_posix()}")
    return expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of the checkout, built from a copy so the checkout gets no build/ or egg-info litter."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", *[p.name for p in REPO.glob("LICENSE*")]):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    for folder in LAYOUT:
        shutil.copytree(REPO / folder, source / folder, ignore=SKIP)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(work / "dist"), str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    [built] = (work / "dist").glob("radzoo-*.whl")
    return built


@pytest.mark.slow
def test_wheel_has_every_package(wheel):
    missing = sorted(_source_packages() - _wheel_packages(set(zipfile.ZipFile(wheel).namelist())))
    assert not missing, f"packages missing from the wheel (add them to pyproject.toml packages): {missing}"


@pytest.mark.slow
def test_wheel_ships_every_module_and_data_file_under_radzoo(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    top_level = {n.split("/")[0] for n in names}
    dist_info = {t for t in top_level if t.endswith(".dist-info")}
    assert top_level - dist_info == {"radzoo"}, f"unexpected top-level entries: {top_level - dist_info}"
    missing = sorted(_source_files(_wheel_packages(names)) - names)
    assert not missing, f"files missing from the wheel (add them to pyproject package-data): {missing}"
    for required in ("radzoo/__init__.py", "radzoo/plugins/__init__.py", "radzoo/plugins/encoders/__init__.py",
                     "radzoo/recipes/llava-rad.yaml", "radzoo/recipes/_base/two_stage.yaml",
                     "radzoo/recipes/demo/llava-rad.yaml", "radzoo/plugins/llms/tiny_corpus.txt"):
        assert required in names
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "radzoo = radzoo.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_unpacked_wheel_imports_and_finds_plugins_and_recipes(wheel, tmp_path):
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    script = (
        "import json, radzoo, radzoo.plugins.encoders, radzoo.recipes\n"
        "from radzoo.components.discovery import load_plugins\n"
        "from radzoo.recipe.load import bundled_recipe_names, load_recipe\n"
        "plugins = load_plugins()\n"
        "print(json.dumps({'files': [radzoo.__file__, radzoo.plugins.encoders.__file__, radzoo.recipes.__file__],\n"
        "    'names': {k: r.names() for k, r in plugins.registries.items()},\n"
        "    'failures': [str(f) for f in plugins.failures], 'recipes': bundled_recipe_names(),\n"
        "    'demo': load_recipe('demo/llava-rad').name}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    env.pop("PYTHONSAFEPATH", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for file in report["files"]:
        assert Path(file).resolve().is_relative_to(unpacked.resolve()), f"{file} is not from the unpacked wheel"
    assert report["failures"] == []

    from radzoo.components.discovery import load_plugins
    from radzoo.recipe.load import bundled_recipe_names

    assert report["names"] == {k: r.names() for k, r in load_plugins().registries.items()}
    assert report["recipes"] == bundled_recipe_names()
    assert report["demo"] == "demo-llava-rad"
