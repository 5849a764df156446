"""Plugin discovery: built-ins and ``radzoo`` entry points fill one registry per component kind.

A plugin that fails (import error, bad hook, duplicate name) is recorded with its name and the
reason, and every other plugin still loads.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as metadata
import inspect
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy

from radzoo import __version__, hookspecs
from radzoo.components.keyword_typos import unexpected_option_message
from radzoo.components.protocols import check_component
from radzoo.components.registry import Registry, RegistryError, resolve_factory
from radzoo.errors import ContractError, RecipeError

# Built-in plugin modules: they implement the same hooks a third-party package does.
BUILTIN_PLUGINS = (
    "radzoo.plugins.encoders",
    "radzoo.plugins.llms",
    "radzoo.plugins.adapters",
    "radzoo.plugins.evaluators",
    # evaluators that need model weights or an LLM judge: a separate module so a missing optional
    # dependency there cannot hide the offline metrics
    "radzoo.plugins.evaluators.model_based",
)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or could not register its components."""

    plugin: str
    package: str
    stage: str  # "import", "hooks" or "register"
    error: str

    def __str__(self) -> str:
        where = f" (package {self.package})" if self.package else ""
        return f"plugin {self.plugin!r}{where} failed at {self.stage}: {self.error}"


@dataclass
class PluginSet:
    """The loaded registries plus the failures met while loading them."""

    registries: dict[str, Registry]
    failures: list[PluginFailure]
    plugin_manager: pluggy.PluginManager

    def registry(self, kind: str) -> Registry:
        return self.registries[kind]

    def unknown_hint(self) -> str:
        """Names failed plugins, which may be where a missing component was supposed to come from."""
        if not self.failures:
            return ""
        return " Note: " + "; ".join(str(f) for f in self.failures)


def _short_error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _unknown_hooks(pm: pluggy.PluginManager, packages: dict[str, str]) -> list[PluginFailure]:
    """One failure per hook implementation that matches no radzoo hookspec (a misspelt name such as
    radzoo_register_encoder). Not ``pm.check_pending()``: it stops at the first one and names no plugin."""
    failures = []
    for hook_name, caller in sorted(vars(pm.hook).items()):
        if hook_name.startswith("_") or caller.has_spec():
            continue
        close = difflib.get_close_matches(hook_name, hookspecs.KIND_HOOKS.values(), n=1)
        known = ", ".join(hookspecs.KIND_HOOKS.values())
        hint = f"did you mean {close[0]!r}?" if close else f"radzoo's hooks are {known}"
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                failures.append(PluginFailure(impl.plugin_name, packages.get(impl.plugin_name, ""), "hooks",
                                              f"unknown hook {hook_name!r} in plugin {impl.plugin_name!r}; {hint}"))
    return failures


def _candidate_plugins() -> list[tuple[str, str, str, object]]:
    """(plugin name, package, version, loader) for built-ins then entry points."""
    found: list[tuple[str, str, str, object]] = [
        (name, "radzoo", __version__, name) for name in BUILTIN_PLUGINS
    ]
    for ep in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        if ep.value in BUILTIN_PLUGINS:
            continue  # an old editable install may still advertise the built-ins
        dist = getattr(ep, "dist", None)
        found.append((ep.name, dist.name if dist else "", dist.version if dist else "", ep))
    return found


def load_plugins(extra: list[ModuleType | object] | None = None) -> PluginSet:
    """Import every plugin and call its register hooks, one plugin at a time."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    registries = {kind: Registry(kind) for kind in hookspecs.KIND_HOOKS}
    failures: list[PluginFailure] = []
    loaded: list[tuple[str, str, str, object]] = []

    candidates = _candidate_plugins()
    candidates += [(getattr(m, "__name__", repr(m)), "", "", m) for m in extra or []]
    for name, package, version, source in candidates:
        try:
            if isinstance(source, str):
                module = importlib.import_module(source)
            elif isinstance(source, metadata.EntryPoint):
                module = source.load()
            else:
                module = source
        except Exception as exc:  # a broken plugin must not hide the others
            failures.append(PluginFailure(name, package, "import", _short_error(exc)))
            continue
        try:
            pm.register(module, name=name)
        except Exception as exc:
            failures.append(PluginFailure(name, package, "hooks", _short_error(exc)))
            continue
        loaded.append((name, package, version, module))

    failures += _unknown_hooks(pm, {m[0]: m[1] for m in loaded})

    for kind, hook_name in hookspecs.KIND_HOOKS.items():
        registry = registries[kind]
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            meta = next((m for m in loaded if m[0] == impl.plugin_name), (impl.plugin_name, "", "", None))
            registry.current_plugin, registry.current_package, registry.current_version = meta[:3]
            try:
                impl.function(registry=registry)
            except RegistryError as exc:
                failures.append(PluginFailure(impl.plugin_name, meta[1], "register", str(exc)))
            except Exception as exc:
                failures.append(PluginFailure(impl.plugin_name, meta[1], "register", _short_error(exc)))
        registry.current_plugin, registry.current_package, registry.current_version = "unknown", "", ""
    return PluginSet(registries, failures, pm)


_PLUGINS: PluginSet | None = None


def get_plugins() -> PluginSet:
    """The process-wide plugin set, loaded on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = load_plugins()
    return _PLUGINS


def reset_plugins() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin package at run time)."""
    global _PLUGINS
    _PLUGINS = None
    importlib.invalidate_caches()


def registries() -> dict[str, Registry]:
    """Registries by kind: ``encoder``, ``llm``, ``adapter``, ``evaluator``."""
    return get_plugins().registries


def unknown_component_message(kind: str, name: str) -> str:
    """Why ``name`` is not a known ``kind``: close matches, every known name and any plugin that failed to load."""
    plugins = get_plugins()
    return plugins.registry(kind).unknown_message(name) + plugins.unknown_hint()


def create_component(kind: str, name: str, args: Mapping[str, Any] | None = None, /, *,
                     recipe_key: str | None = None) -> Any:
    """The one way to build a component: look up ``name``, check ``args`` against the factory, call it, check
    the result against the kind's protocol.

    Errors are user errors naming where to fix things: an unknown name lists close matches (RegistryError); args
    the factory does not take name ``recipe_key`` (RecipeError); a result breaking the protocol names the plugin
    (ContractError). Anything the factory itself raises is passed on untouched.
    """
    args = dict(args or {})
    registry = get_plugins().registry(kind)
    if name not in registry:
        where = f"recipe key '{recipe_key}.name': " if recipe_key else ""
        raise RegistryError(where + unknown_component_message(kind, name))
    spec = registry.spec(name)
    factory = resolve_factory(spec.factory)
    try:
        inspect.signature(factory).bind(**args)
    except TypeError as exc:
        where = f"recipe key '{recipe_key}.args'" if recipe_key else "arguments"
        called = getattr(getattr(factory, "func", factory), "__name__", name)  # a partial names its function
        typo = unexpected_option_message(TypeError(f"{called}() {exc}"), factory, f"{kind} {name!r}")
        message = typo or f"{kind} {name!r} rejected its arguments: {called}() {exc}"
        raise RecipeError(f"{where}: {message}") from None
    except ValueError:  # no inspectable signature (a builtin): the call itself will tell
        pass
    try:
        component = factory(**args)
    except TypeError as exc:  # a factory passing **options on: name the option meant, not __init__'s TypeError
        typo = unexpected_option_message(exc, factory, f"{kind} {name!r}")
        if typo is None:
            raise
        raise RecipeError(typo) from None
    try:
        check_component(kind, name, component)
    except ContractError as exc:  # name the plugin to fix, not only the component
        raise ContractError(f"{exc} (it comes from {spec.origin()})") from None
    return component
