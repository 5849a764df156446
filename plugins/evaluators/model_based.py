"""Evaluators that need weights or an LLM judge (CheXbert, RadGraph, RadCliQ, CheXprompt).

Factories import their modules lazily, so listing plugins stays fast and a missing optional dependency
surfaces only when that metric is used.
"""

from __future__ import annotations

from radzoo import hookimpl


def _chexprompt(**options):
    from radzoo.plugins.evaluators.chexprompt import CheXpromptEvaluator

    return CheXpromptEvaluator(**options)


def _chexbert(**options):
    from radzoo.plugins.evaluators.chexbert import CheXbertF1Evaluator

    return CheXbertF1Evaluator(**options)


def _radgraph(**options):
    from radzoo.plugins.evaluators.radgraph_f1 import RadGraphF1Evaluator

    return RadGraphF1Evaluator(**options)


def _radcliq(**options):
    from radzoo.plugins.evaluators.radcliq import RadCliQEvaluator

    return RadCliQEvaluator(**options)


def _green_judge(**options):
    from radzoo.plugins.evaluators.green_judge import GreenJudgeEvaluator

    return GreenJudgeEvaluator(**options)


@hookimpl
def radzoo_register_evaluators(registry) -> None:
    """The LLM judge and the weight-based clinical metrics."""
    registry.add("chexprompt", _chexprompt, description="CheXprompt LLM judge on any OpenAI-compatible endpoint "
                 "(options model, base_url, api_key_env, api_version for Azure, cache_dir, concurrency)",
                 license="Apache-2.0 (radzoo); prompt design after microsoft/chexprompt (MIT)",
                 paper="Zambrano Chaves et al. 2025 (LLaVA-Rad, CheXprompt)")
    registry.add("chexbert", _chexbert, description="CheXpert F1 (14 and 5, micro/macro) from CheXbert labels; "
                 "options checkpoint_path (chexbert.pth), bert_path (bert-base-uncased tokenizer), uncertain",
                 license="CheXbert weights: Stanford research license; code Apache-2.0 (radzoo)",
                 paper="Smit et al. 2020 (CheXbert)")
    registry.add("radgraph", _radgraph, description="RadGraph F1 simple/partial (headline)/complete from RadGraph "
                 "annotations (option annotations_path: JSON written by the radgraph package)",
                 license="Apache-2.0 (radzoo)", paper="Jain et al. 2021 (RadGraph); Delbrouck et al. 2022")
    registry.add("radcliq", _radcliq, description="RadCliQ-v1 (lower is better) from RadGraph, BERTScore, CheXbert "
                 "embedding similarity and BLEU-2 with the published coefficients; needs all four offline",
                 license="Apache-2.0 (radzoo); coefficients from rajpurkarlab/CXR-Report-Metric (MIT)",
                 paper="Yu et al. 2023 (RadCliQ)")
    registry.add("green_judge", _green_judge, description="GREEN-style score (matched / (matched + significant "
                 "errors)) from the CheXprompt judge; options as chexprompt",
                 license="Apache-2.0 (radzoo)", paper="Ostmeier et al. 2024 (GREEN)")
