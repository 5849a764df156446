"""Registry: adding, creating and looking up components, and the errors a user sees."""

from __future__ import annotations

import json

import pytest

from radzoo.components.protocols import check_component
from radzoo.components.registry import Registry, RegistryError


def make_registry(*names: str, plugin: str = "plugin_a", package: str = "pkg-a") -> Registry:
    registry = Registry("adapter")
    registry.current_plugin, registry.current_package, registry.current_version = plugin, package, "1.2.3"
    for name in names:
        registry.add(name, lambda **kw: kw, description=f"{name} adapter", license="MIT", paper="arXiv:0")
    return registry


def test_create_calls_the_factory_with_the_recipe_args():
    registry = make_registry("mlp2x_gelu")
    assert registry.create("mlp2x_gelu", in_dim=4, depth=2) == {"in_dim": 4, "depth": 2}


def test_spec_records_origin_and_metadata():
    registry = make_registry("linear")
    registry.current_plugin = "plugin_b"
    registry.add("gated", lambda **kw: None, description="gated", custom_field=7)
    spec = registry.spec("linear")
    assert (spec.kind, spec.name, spec.plugin, spec.package, spec.version) == (
        "adapter", "linear", "plugin_a", "pkg-a", "1.2.3")
    row = spec.as_dict()
    assert set(row) == {"kind", "name", "plugin", "package", "version", "description", "license", "paper"}
    json.dumps(row)  # JSON-ready: the factory is left out
    assert registry.spec("gated").as_dict()["extra"] == {"custom_field": 7}
    assert registry.spec("gated").plugin == "plugin_b"


def test_names_iteration_and_membership_are_sorted_and_complete():
    registry = make_registry("perceiver", "linear", "mlp2x_gelu")
    assert registry.names() == ["linear", "mlp2x_gelu", "perceiver"]
    assert [s.name for s in registry] == registry.names()
    assert len(registry) == 3 and "linear" in registry and "linaer" not in registry


def test_unknown_name_lists_close_matches_and_every_known_name():
    registry = make_registry("linear", "mlp2x_gelu", "mlp2x_gelu_pool", "perceiver")
    with pytest.raises(RegistryError) as info:
        registry.create("mlp2x_gleu")
    message = str(info.value)
    assert message.startswith("unknown adapter 'mlp2x_gleu'.")
    assert "Did you mean 'mlp2x_gelu'" in message
    assert "Known adapters: linear, mlp2x_gelu, mlp2x_gelu_pool, perceiver" in message
    assert isinstance(info.value, LookupError)  # the CLI prints LookupErrors as one line


def test_unknown_name_without_close_matches_still_lists_known_names():
    message = make_registry("linear", "perceiver").unknown_message("qformer")
    assert "Did you mean" not in message
    assert "Known adapters: linear, perceiver" in message
    assert "(none registered)" in Registry("encoder").unknown_message("anything")


def test_duplicate_name_names_both_plugins_and_keeps_the_first():
    registry = make_registry("linear")
    registry.current_plugin, registry.current_package = "plugin_b", "pkg-b"
    with pytest.raises(RegistryError) as info:
        registry.add("linear", lambda **kw: "second")
    message = str(info.value)
    assert "duplicate adapter name 'linear'" in message
    assert "'plugin_a' (pkg-a)" in message and "'plugin_b' (pkg-b)" in message
    assert registry.spec("linear").plugin == "plugin_a"


def test_builtin_plugins_are_labelled_built_in_in_duplicate_errors():
    registry = make_registry("linear", package="")
    with pytest.raises(RegistryError, match=r"'plugin_a' \(built-in\)"):
        registry.add("linear", lambda **kw: None)


@pytest.mark.parametrize(("name", "factory", "expected"), [
    ("", lambda: None, "name must be a non-empty string"),
    (None, lambda: None, "name must be a non-empty string"),
    ("thing", "not callable", "factory for adapter 'thing' is not callable"),
])
def test_bad_registrations_name_the_plugin(name, factory, expected):
    registry = make_registry()
    with pytest.raises(RegistryError, match=expected) as info:
        registry.add(name, factory)
    assert str(info.value).startswith("plugin_a:")


# ------------------------------------------------------------------------------- protocol checks
class _Encoder:
    embed_dim = 8

    def forward(self, pixel_values):
        return pixel_values

    def image_transform(self, train):
        return lambda img: img


@pytest.mark.parametrize(("kind", "obj", "missing"), [
    ("encoder", object(), "embed_dim, forward, image_transform"),
    ("adapter", object(), "forward, parameters"),
    ("llm", object(), "model, tokenizer, hidden_size, prompt_format, lora_target_modules"),
    ("evaluator", object(), "name, version, metric_names, higher_is_better, sample_stats, aggregate"),
])
def test_check_component_names_kind_component_and_missing_attributes(kind, obj, missing):
    with pytest.raises(TypeError) as info:
        check_component(kind, "their-thing", obj)
    message = str(info.value)
    assert f"{kind} 'their-thing' returned object, which lacks {missing} required by the radzoo {kind}" in message
    assert "fix the plugin's factory" in message


def test_check_component_accepts_the_protocol_and_names_each_missing_member():
    """A conforming object passes; without any one member it fails naming exactly that member."""
    from torch import nn

    from radzoo.components.protocols import PROTOCOLS, protocol_members

    for kind, obj in (("encoder", _Encoder()), ("adapter", nn.Linear(2, 3))):
        check_component(kind, "ok", obj)
        assert isinstance(obj, PROTOCOLS[kind])
        for member in protocol_members(PROTOCOLS[kind]):
            stripped = type(f"Without_{member}", (), {m: getattr(obj, m) for m in protocol_members(PROTOCOLS[kind])
                                                      if m != member})()
            with pytest.raises(TypeError, match=f"which lacks {member} required by the radzoo {kind} protocol"):
                check_component(kind, "partial", stripped)


def test_lazy_factory_imports_its_target_only_when_called_and_binds_keywords():
    from radzoo.components.registry import lazy, resolve_factory
    from radzoo.errors import ContractError

    missing = lazy("radzoo_no_such_package.encoders:build")  # registering imports nothing ...
    with pytest.raises(ModuleNotFoundError, match="radzoo_no_such_package"):  # ... calling does
        missing()
    factory = lazy("radzoo.plugins.adapters.modules:PooledMLPAdapter", pool=4)
    adapter = factory(in_dim=8, out_dim=6)
    assert type(adapter).__name__ == "PooledMLPAdapter" and adapter.num_tokens(64) == 4  # pool=4 was bound
    assert resolve_factory(factory).keywords == {"pool": 4} and resolve_factory(len) is len
    assert repr(factory) == "lazy('radzoo.plugins.adapters.modules:PooledMLPAdapter', pool=4)"
    with pytest.raises(ContractError, match="expected 'package.module:attribute'"):
        lazy("radzoo.plugins.adapters.modules.PooledMLPAdapter")
