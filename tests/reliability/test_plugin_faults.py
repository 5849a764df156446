"""A broken third-party plugin package (a real distribution on sys.path) is named; everything else still works.

tests/components/test_plugins.py covers the loader with in-memory plugins and patched entry points; this installs a
distribution whose entry points raise on import, register a built-in's name, and return protocol breakers, then
drives the ``radzoo`` command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import cli_error, run_cli
from test_plugins import EXPECTED_BUILTINS

from radzoo.components import discovery as discovery

DIST = "radzoo_broken_plugins"
MODULES = {
    "radzoo_explodes_on_import": 'raise RuntimeError("cannot find libfancy.so")\n',
    "radzoo_duplicates_a_builtin": (
        "from radzoo import hookimpl\n\n\n@hookimpl\ndef radzoo_register_adapters(registry):\n"
        "    registry.add('fine-adapter', lambda **kw: None, description='registered before the clash')\n"
        "    registry.add('linear', lambda **kw: None, description='a second linear')\n"),
    "radzoo_breaks_the_protocol": (
        "from radzoo import hookimpl\nfrom torch import nn\n\n\n@hookimpl\ndef radzoo_register_encoders(registry):\n"
        "    registry.add('broken-encoder', lambda **kw: nn.Identity(), description='no embed_dim')\n\n\n"
        "@hookimpl\ndef radzoo_register_evaluators(registry):\n"
        "    registry.add('broken-metric', lambda **kw: object(), description='no sample_stats')\n"),
}
ENTRY_POINTS = {"explodes": "radzoo_explodes_on_import", "duplicates": "radzoo_duplicates_a_builtin",
                "breaks": "radzoo_breaks_the_protocol"}


@pytest.fixture
def broken_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The distribution ``radzoo-broken-plugins`` 1.0 importable for this test only."""
    for module, source in MODULES.items():
        (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
    info = tmp_path / f"{DIST}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: radzoo-broken-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[radzoo]\n" + "".join(f"{k} = {v}\n" for k, v in ENTRY_POINTS.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(discovery, "_PLUGINS", None)
    yield tmp_path
    for module in MODULES:
        sys.modules.pop(module, None)


def test_radzoo_plugins_names_each_broken_plugin_and_lists_the_rest(broken_distribution: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "plugins", "--json")
    assert code == 0
    listing = json.loads(out)
    failures = {f["plugin"]: f for f in listing["failures"]}
    assert set(failures) == {"explodes", "duplicates"}
    assert failures["explodes"]["package"] == "radzoo-broken-plugins" and failures["explodes"]["stage"] == "import"
    assert failures["explodes"]["error"].startswith("RuntimeError: cannot find libfancy.so at ")
    assert failures["duplicates"]["error"] == (
        "duplicate adapter name 'linear': registered by plugin 'radzoo.plugins.adapters' (radzoo) and again by "
        "plugin 'duplicates' (radzoo-broken-plugins); rename one of them")
    names = {(c["kind"], c["name"]) for c in listing["components"]}
    assert {(kind, name) for kind, group in EXPECTED_BUILTINS.items() for name in group} <= names
    assert {("adapter", "fine-adapter"), ("encoder", "broken-encoder"), ("evaluator", "broken-metric")} <= names
    code, out, _ = run_cli(capsys, "plugins")
    text = " ".join(out.split())
    assert code == 0 and ("failed: plugin 'explodes' (package radzoo-broken-plugins) failed at import: "
                          "RuntimeError: cannot find libfancy.so") in text


def test_a_component_breaking_the_protocol_is_one_line_naming_its_plugin(broken_distribution: Path, tmp_path: Path,
                                                                         capsys) -> None:
    message = cli_error(capsys, "build", "demo/llava-rad", "encoder.name=broken-encoder", "--no-smoke")
    assert message == ("radzoo build: error: encoder 'broken-encoder' returned Identity, which lacks embed_dim, "
                       "image_transform required by the radzoo encoder protocol (see docs/ARCHITECTURE.md 'The "
                       "plugin contract'); fix the plugin's factory (it comes from plugin 'breaks' (package "
                       "radzoo-broken-plugins))")
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"id": 1, "prediction": "a", "reference": "b"}\n', encoding="utf-8")
    message = cli_error(capsys, "evaluate", "--predictions", predictions, "--metrics", "broken-metric",
                        "--out", tmp_path / "m.json")
    assert "evaluator 'broken-metric' returned object, which lacks name, version" in message
    assert message.endswith("(it comes from plugin 'breaks' (package radzoo-broken-plugins))")
    message = cli_error(capsys, "build", "demo/llava-rad", "adapter.name=linaer", "--no-smoke")
    assert "Did you mean 'linear'" in message and "plugin 'explodes' (package radzoo-broken-plugins) failed" in message
