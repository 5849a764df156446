"""Built-in evaluators: every variant in the zoo is scored by the same code."""

from __future__ import annotations

from radzoo import hookimpl


@hookimpl
def radzoo_register_evaluators(registry) -> None:
    """Evaluators are added by their modules as they land (see issue: shared evaluators)."""
