"""Registry: named component factories of one kind, with metadata and helpful errors."""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from radzoo.errors import ContractError, UnknownNameError


class RegistryError(UnknownNameError):
    """An unknown or conflicting component name."""


class LazyFactory:
    """A factory named ``"module:attribute"``, imported on first use so ``radzoo plugins`` loads no torch model code.

    Keyword arguments given here are bound like ``functools.partial`` (one function serving several names).
    """

    def __init__(self, target: str, **bound: Any) -> None:
        module, _, attribute = target.partition(":")
        if not module or not attribute:
            raise ContractError(f"lazy factory {target!r}: expected 'package.module:attribute'")
        self.target, self.bound = target, bound

    def resolve(self) -> Callable[..., Any]:
        """The real factory (its signature is the one recipe arguments are checked against)."""
        module, _, attribute = self.target.partition(":")
        factory: Any = importlib.import_module(module)
        for part in attribute.split("."):
            factory = getattr(factory, part)
        return functools.partial(factory, **self.bound) if self.bound else factory

    def __call__(self, **args: Any) -> Any:
        return self.resolve()(**args)

    def __repr__(self) -> str:
        bound = "".join(f", {k}={v!r}" for k, v in self.bound.items())
        return f"lazy({self.target!r}{bound})"


def lazy(target: str, **bound: Any) -> LazyFactory:
    """A factory importing ``target`` (``"package.module:attribute"``) when first called: how plugins register."""
    return LazyFactory(target, **bound)


def resolve_factory(factory: Callable[..., Any]) -> Callable[..., Any]:
    """The callable behind ``factory``: a lazy factory's import target, else the factory itself."""
    return factory.resolve() if isinstance(factory, LazyFactory) else factory


@dataclass(frozen=True)
class ComponentSpec:
    """One registered component: its factory and what `radzoo plugins` shows about it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str = "unknown"
    package: str = ""
    version: str = ""
    description: str = ""
    license: str = ""
    paper: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # (**recipe args) -> why the weights cannot load without the hub, or None; light (no torch/model library),
    # so a recipe's missing parts are all named before any factory imports its model code
    weights_check: Callable[..., str | None] | None = None

    def origin(self) -> str:
        """Where the component comes from, for error messages: "plugin 'x' (package y)"."""
        return f"plugin {self.plugin!r} (package {self.package or 'unknown'})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready metadata (the factory itself is left out)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "plugin": self.plugin,
            "package": self.package,
            "version": self.version,
            "description": self.description,
            "license": self.license,
            "paper": self.paper,
            **({"extra": self.extra} if self.extra else {}),
        }


class Registry:
    """Components of one kind (``encoder``, ``llm``, ``adapter``, ``evaluator``) by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._specs: dict[str, ComponentSpec] = {}
        # set by the plugin loader while a plugin's hook runs, so each entry knows its origin
        self.current_plugin: str = "unknown"
        self.current_package: str = ""
        self.current_version: str = ""

    def add(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        description: str = "",
        license: str = "",
        paper: str = "",
        weights_check: Callable[..., str | None] | None = None,
        **extra: Any,
    ) -> None:
        """Register ``factory`` under ``name``; a name taken by another plugin is an error naming both.

        ``weights_check`` (optional, light) takes the recipe's args and says why the weights are missing offline."""
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.current_plugin}: a {self.kind} name must be a non-empty string")
        if not callable(factory):
            raise RegistryError(f"{self.current_plugin}: the factory for {self.kind} {name!r} is not callable")
        if name in self._specs:
            first = self._specs[name]
            raise RegistryError(
                f"duplicate {self.kind} name {name!r}: registered by plugin {first.plugin!r}"
                f" ({first.package or 'built-in'}) and again by plugin {self.current_plugin!r}"
                f" ({self.current_package or 'built-in'}); rename one of them"
            )
        self._specs[name] = ComponentSpec(
            kind=self.kind,
            name=name,
            factory=factory,
            plugin=self.current_plugin,
            package=self.current_package,
            version=self.current_version,
            description=description,
            license=license,
            paper=paper,
            extra=extra,
            weights_check=weights_check,
        )

    def spec(self, name: str) -> ComponentSpec:
        """The spec for ``name``, or an error listing close matches and every known name."""
        try:
            return self._specs[name]
        except KeyError:
            raise RegistryError(self.unknown_message(name)) from None

    def create(self, name: str, /, **args: Any) -> Any:
        """Call the factory of ``name`` with the recipe's ``args``."""
        return self.spec(name).factory(**args)

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(str(name), list(self._specs), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._specs)) or "(none registered)"
        return f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}"

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ComponentSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)
