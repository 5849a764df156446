"""Evaluators that need weights or an LLM judge (CheXbert, RadGraph, RadCliQ, CheXprompt).

Factories import their modules lazily, so listing plugins stays fast and a missing optional dependency
surfaces only when that metric is used.
"""

from __future__ import annotations

from radzoo import hookimpl


def _chexprompt(**options):
    from radzoo.plugins.evaluators.chexprompt import CheXpromptEvaluator

    return CheXpromptEvaluator(**options)


@hookimpl
def radzoo_register_evaluators(registry) -> None:
    """The LLM judge and the weight-based clinical metrics."""
    registry.add("chexprompt", _chexprompt, description="CheXprompt LLM judge on any OpenAI-compatible endpoint "
                 "(options model, base_url, api_key_env, api_version for Azure, cache_dir, concurrency)",
                 license="Apache-2.0 (radzoo); prompt design after microsoft/chexprompt (MIT)",
                 paper="Zambrano Chaves et al. 2025 (LLaVA-Rad, CheXprompt)")
