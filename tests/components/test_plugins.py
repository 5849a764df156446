"""Plugin discovery: built-ins, entry points, broken plugins, and a real third-party package."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import math
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import radzoo
from radzoo import hookimpl
from radzoo.components import discovery as discovery
from radzoo.components.discovery import load_plugins

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "radzoo-plugin-example"

EXPECTED_BUILTINS = {
    "encoder": {"biomedclip", "biomedclip-cxr-518", "rad-dino", "clip", "cxr-llava-vit", "timm", "tiny-vit"},
    "llm": {"vicuna-7b-v1.5", "llama-2-7b-chat", "phi-2", "mistral-7b-instruct", "hf-causal-lm",
            "tiny-llama", "tiny-phi", "tiny-mistral"},
    "adapter": {"linear", "mlp2x_gelu", "mlp2x_gelu_pool", "perceiver"},
}


def plugin_module(name: str, **hooks) -> types.ModuleType:
    """An in-memory plugin module whose attributes are the given functions marked with ``@hookimpl``."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def adds(*names: str, factory=lambda **kw: None):
    """A register hook body that adds ``names`` to whatever registry it receives."""
    def register(registry):
        for name in names:
            registry.add(name, factory, description=f"test {name}")
    return register


def use_plugins(monkeypatch, *modules) -> discovery.PluginSet:
    """Make ``modules`` part of the process-wide plugin set for this test only."""
    plugins = load_plugins(extra=list(modules))
    monkeypatch.setattr(discovery, "_PLUGINS", plugins)
    return plugins


# ------------------------------------------------------------------------------------------ built-ins
def test_builtins_load_without_failures_and_carry_metadata():
    plugins = load_plugins()
    assert plugins.failures == []
    for kind, names in EXPECTED_BUILTINS.items():
        registry = plugins.registry(kind)
        assert names <= set(registry.names()), f"missing built-in {kind}s: {names - set(registry.names())}"
        for name in names:
            spec = registry.spec(name)
            assert spec.plugin.startswith("radzoo.plugins."), spec
            assert (spec.package, spec.version) == ("radzoo", radzoo.__version__)
            assert spec.description and spec.license, f"{kind} {name} lacks a description or license"


def test_extra_plugin_components_are_registered_under_the_plugin_name():
    module = plugin_module("my_lab_plugin", radzoo_register_encoders=adds("lab-encoder"),
                           radzoo_register_adapters=adds("lab-adapter"))
    plugins = load_plugins(extra=[module])
    assert plugins.failures == []
    assert plugins.registry("encoder").spec("lab-encoder").plugin == "my_lab_plugin"
    assert plugins.registry("adapter").spec("lab-adapter").description == "test lab-adapter"
    assert "tiny-vit" in plugins.registry("encoder")


# --------------------------------------------------------------------------------------- duplicates
def test_duplicate_of_a_builtin_names_both_plugins_and_the_rest_still_load():
    module = plugin_module("copycat_plugin", radzoo_register_adapters=adds("linear"),
                           radzoo_register_encoders=adds("copycat-encoder"))
    plugins = load_plugins(extra=[module])
    [failure] = plugins.failures
    assert (failure.plugin, failure.stage) == ("copycat_plugin", "register")
    assert "'linear'" in failure.error
    assert "'radzoo.plugins.adapters'" in failure.error and "'copycat_plugin'" in failure.error
    # the first registration wins; every other component (and the plugin's other hooks) still load
    assert plugins.registry("adapter").spec("linear").plugin == "radzoo.plugins.adapters"
    assert EXPECTED_BUILTINS["adapter"] <= set(plugins.registry("adapter").names())
    assert "copycat-encoder" in plugins.registry("encoder")


def test_duplicate_between_two_third_party_plugins_names_both():
    first = plugin_module("first_plugin", radzoo_register_llms=adds("shared-llm"))
    second = plugin_module("second_plugin", radzoo_register_llms=adds("shared-llm"))
    plugins = load_plugins(extra=[first, second])
    [failure] = plugins.failures
    assert "'first_plugin'" in failure.error and "'second_plugin'" in failure.error
    assert "rename one" in failure.error


# ----------------------------------------------------------------------------------- broken plugins
@pytest.fixture
def entry_point_plugins(tmp_path, monkeypatch):
    """Adds entry points in group ``radzoo``: one that raises on import, one missing, one that works."""
    (tmp_path / "radzoo_test_exploding_plugin.py").write_text('raise RuntimeError("plugin exploded on import")\n')
    (tmp_path / "radzoo_test_good_plugin.py").write_text(
        "from radzoo import hookimpl\n\n\n@hookimpl\ndef radzoo_register_encoders(registry):\n"
        "    registry.add('good-encoder', lambda **kw: None, description='from an entry point')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    extra = [metadata.EntryPoint("exploding", "radzoo_test_exploding_plugin", "radzoo"),
             metadata.EntryPoint("vanished", "radzoo_test_module_that_does_not_exist", "radzoo"),
             metadata.EntryPoint("good", "radzoo_test_good_plugin", "radzoo")]
    real = metadata.entry_points

    def entry_points(**params):
        found = list(real(**params))
        return found + extra if params.get("group") == "radzoo" else found

    monkeypatch.setattr(discovery.metadata, "entry_points", entry_points)
    yield
    sys.modules.pop("radzoo_test_good_plugin", None)


def test_plugin_that_raises_on_import_is_named_and_the_rest_still_load(entry_point_plugins):
    plugins = load_plugins()
    failures = {f.plugin: f for f in plugins.failures}
    assert set(failures) == {"exploding", "vanished"}
    assert failures["exploding"].stage == "import"
    assert "RuntimeError: plugin exploded on import" in failures["exploding"].error
    assert "ModuleNotFoundError" in failures["vanished"].error
    assert "plugin 'exploding'" in str(failures["exploding"])
    assert plugins.registry("encoder").spec("good-encoder").plugin == "good"
    for kind, names in EXPECTED_BUILTINS.items():
        assert names <= set(plugins.registry(kind).names())


def test_unknown_component_error_mentions_the_failed_plugins(entry_point_plugins, monkeypatch):
    monkeypatch.setattr(discovery, "_PLUGINS", None)
    with pytest.raises(LookupError) as info:
        discovery.create_component("encoder", "exploding-encoder")
    message = str(info.value)
    assert "unknown encoder 'exploding-encoder'" in message
    assert "plugin 'exploding'" in message and "plugin exploded on import" in message


def test_radzoo_plugins_command_reports_failed_plugins(entry_point_plugins, monkeypatch, capsys):
    from radzoo.cli import main

    monkeypatch.setattr(discovery, "_PLUGINS", None)
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {(f["plugin"], f["stage"]) for f in listing["failures"]} == {("exploding", "import"), ("vanished", "import")}
    assert "good-encoder" in {c["name"] for c in listing["components"]}
    assert main(["plugins"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "failed: plugin 'exploding' failed at import: RuntimeError: plugin exploded on import" in text


def test_misspelt_hook_is_reported_and_other_plugins_still_load():
    typo = plugin_module("typo_plugin", radzoo_register_encoder=adds("never-registered"))
    good = plugin_module("fine_plugin", radzoo_register_encoders=adds("fine-encoder"))
    plugins = load_plugins(extra=[typo, good])
    [failure] = plugins.failures
    assert failure.stage == "hooks"
    assert "radzoo_register_encoder" in failure.error and "typo_plugin" in failure.error
    assert "never-registered" not in plugins.registry("encoder")
    assert "fine-encoder" in plugins.registry("encoder")


def test_misspelt_hook_failure_carries_the_plugin_name():
    typo = plugin_module("typo_plugin", radzoo_register_encoder=adds("never-registered"))
    [failure] = load_plugins(extra=[typo]).failures
    assert failure.plugin == "typo_plugin"
    assert "did you mean 'radzoo_register_encoders'?" in failure.error


def test_every_misspelt_hook_is_reported_under_its_own_plugin():
    first = plugin_module("typo_one", radzoo_register_encoder=adds("never-one"))
    second = plugin_module("typo_two", radzoo_register_llm=adds("never-two"))
    failures = load_plugins(extra=[first, second]).failures
    assert {(f.plugin, f.stage) for f in failures} == {("typo_one", "hooks"), ("typo_two", "hooks")}
    assert all(f.plugin in f.error for f in failures)


def test_hook_with_wrong_argument_name_is_reported_by_plugin():
    def register(reg):  # the hook's argument must be called ``registry``
        reg.add("x", lambda **kw: None)

    plugins = load_plugins(extra=[plugin_module("badarg_plugin", radzoo_register_adapters=register)])
    [failure] = plugins.failures
    assert (failure.plugin, failure.stage) == ("badarg_plugin", "hooks")
    assert "reg" in failure.error and "hookspec" in failure.error


def test_register_hook_that_raises_is_reported_and_the_rest_still_load():
    def register(registry):
        raise ImportError("optional dependency 'fancylib' is not installed")

    plugins = load_plugins(extra=[plugin_module("needs_fancylib", radzoo_register_evaluators=register)])
    [failure] = plugins.failures
    assert (failure.plugin, failure.stage) == ("needs_fancylib", "register")
    assert "ImportError: optional dependency 'fancylib'" in failure.error
    assert EXPECTED_BUILTINS["llm"] <= set(plugins.registry("llm").names())


# ------------------------------------------------------------------- factories that break the protocol
def test_encoder_factory_breaking_the_protocol_gives_a_typeerror_naming_it(monkeypatch):
    module = plugin_module("sloppy_plugin", radzoo_register_encoders=adds("sloppy-encoder",
                                                                          factory=lambda **kw: nn.Identity()))
    use_plugins(monkeypatch, module)
    recipe = radzoo.load_recipe("demo/llava-rad", ["encoder.name=sloppy-encoder"])
    with pytest.raises(TypeError, match=r"encoder 'sloppy-encoder' returned Identity, which lacks "
                                        r"embed_dim, image_transform required by the radzoo encoder protocol"):
        radzoo.build_model(recipe)


def test_llm_factory_breaking_the_protocol_gives_a_typeerror_naming_it(monkeypatch):
    module = plugin_module("sloppy_llm_plugin", radzoo_register_llms=adds("sloppy-llm",
                                                                          factory=lambda **kw: object()))
    use_plugins(monkeypatch, module)
    recipe = radzoo.load_recipe("demo/llava-rad", ["llm.name=sloppy-llm"])
    with pytest.raises(TypeError, match=r"llm 'sloppy-llm' returned object, which lacks model, tokenizer, "
                                        r"hidden_size, prompt_format, lora_target_modules"):
        radzoo.build_model(recipe)


class MinimalEncoder(nn.Module):
    """Exactly the documented encoder contract: embed_dim, forward, image_transform (no num_tokens)."""

    embed_dim = 16

    def __init__(self, **args):
        super().__init__()
        self.proj = nn.Conv2d(1, 16, 8, stride=8)  # 32 px -> a 4 x 4 grid of tokens

    def forward(self, pixel_values):
        return self.proj(pixel_values).flatten(2).transpose(1, 2)

    def image_transform(self, train=False):
        def transform(img):
            return torch.from_numpy(np.asarray(img.convert("L").resize((32, 32)), "float32") / 255)[None]
        return transform


@pytest.fixture
def minimal_encoder_model(monkeypatch):
    use_plugins(monkeypatch, plugin_module("minimal_plugin", radzoo_register_encoders=adds("minimal-encoder",
                                                                                          factory=MinimalEncoder)))
    return radzoo.build_model(radzoo.load_recipe("demo/llava-rad", ["encoder.name=minimal-encoder"]))


def test_encoder_with_only_the_documented_contract_trains(minimal_encoder_model):
    from radzoo.model.smoke import smoke_step

    assert math.isfinite(smoke_step(minimal_encoder_model))


def test_encoder_with_only_the_documented_contract_reports_its_image_tokens(minimal_encoder_model):
    minimal_encoder_model.train()
    assert minimal_encoder_model.image_tokens() == 16
    assert minimal_encoder_model.training  # the probe leaves the mode as it found it


# ----------------------------------------------------------------- the third-party example package
def _build_and_install_example(workdir: Path) -> Path:
    """Build the example's wheel (from a copy, so the checkout stays clean) and install it into a folder."""
    source = workdir / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(workdir / "dist"), str(source)], check=True, capture_output=True)
    [wheel] = (workdir / "dist").glob("radzoo_plugin_example-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        entry_points = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
        assert "[radzoo]\nexample = radzoo_plugin_example.plugin" in zf.read(entry_points).decode()
    site = workdir / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    return site


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory):
    """The example package installed for this interpreter only (a --target folder on sys.path).

    Installing into the shared venv instead would leak the plugin into concurrent test runs.
    """
    site = _build_and_install_example(tmp_path_factory.mktemp("example-plugin"))
    sys.path.insert(0, str(site))
    discovery.reset_plugins()
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.split(".")[0] == "radzoo_plugin_example"]:
        del sys.modules[name]
    discovery.reset_plugins()


def test_example_package_is_discovered_through_its_entry_point(example_plugin):
    plugins = discovery.get_plugins()
    assert plugins.failures == []
    encoder = plugins.registry("encoder").spec("example-cnn")
    adapter = plugins.registry("adapter").spec("example-gated")
    for spec in (encoder, adapter):
        assert (spec.plugin, spec.package, spec.version) == ("example", "radzoo-plugin-example", "0.1.0")
        assert spec.license == "Apache-2.0"
    assert Path(sys.modules["radzoo_plugin_example"].__file__).is_relative_to(example_plugin)


def test_example_recipe_builds_and_trains_one_step(example_plugin):
    from radzoo.model.smoke import smoke_step

    model = radzoo.build_model(radzoo.load_recipe(str(EXAMPLE / "recipes" / "example.yaml")))
    assert type(model.encoder).__name__ == "ExampleCNN" and type(model.adapter).__name__ == "GatedAdapter"
    assert model.trainable_parts() == ["encoder", "adapter", "llm", "lora"]
    assert model.image_tokens() == 64
    loss = smoke_step(model)
    assert math.isfinite(loss)
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_example_plugin_is_gone_after_uninstall(example_plugin):
    # the fixture's own finaliser is what other tests rely on; check the mechanism it uses
    sys.path.remove(str(example_plugin))
    try:
        assert "example-cnn" not in load_plugins().registry("encoder")
    finally:
        sys.path.insert(0, str(example_plugin))
