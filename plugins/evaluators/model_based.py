"""Evaluators that need weights or an LLM judge (CheXbert, RadGraph, RadCliQ, CheXprompt)."""

from __future__ import annotations

from radzoo import hookimpl


@hookimpl
def radzoo_register_evaluators(registry) -> None:
    """Registered as their modules land (issue: shared evaluators)."""
