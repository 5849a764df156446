"""Turn Python's "got an unexpected keyword argument" into the option the user meant."""

from __future__ import annotations

import difflib
import inspect
import re
import sys
from collections.abc import Callable
from typing import Any

_UNEXPECTED = re.compile(r"^(?P<func>[\w.]+)\(\) got an unexpected keyword argument '(?P<key>\w+)'")


def accepted_keywords(factory: Callable[..., Any], func_name: str) -> list[str]:
    """Keyword names ``func_name`` (``Class.__init__`` or a function, as Python names it) accepts; a factory
    passing ``**options`` on is followed to the class or function of that name in its module."""
    target: Any = factory
    owner = func_name.split(".")[0]
    if getattr(factory, "__name__", None) != owner:
        # the factory may import the class lazily: look in its package's modules loaded by now
        package = (getattr(factory, "__module__", "") or "").rpartition(".")[0] or "-"
        modules = [inspect.getmodule(factory)] + [m for n, m in list(sys.modules.items()) if n.startswith(package)]
        target = next((getattr(m, owner) for m in modules if m is not None and hasattr(m, owner)), factory)
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]


def unexpected_option_message(exc: TypeError, factory: Callable[..., Any], what: str) -> str | None:
    """``what: no option 'X'. Did you mean 'Y'? Options: ...`` for an unexpected keyword, else None."""
    match = _UNEXPECTED.match(str(exc))
    if not match:
        return None
    key, options = match["key"], accepted_keywords(factory, match["func"])
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    return (f"{what}: no option {key!r}." + (f" Did you mean {close[0]!r}?" if close else "")
            + (f" Options: {', '.join(options)}" if options else ""))
