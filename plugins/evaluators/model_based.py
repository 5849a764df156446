"""Evaluators that need weights or an LLM judge (CheXbert, RadGraph, RadCliQ, CheXprompt).

Factories import their modules lazily, so listing plugins stays fast and a missing optional dependency
surfaces only when that metric is used.
"""

from __future__ import annotations

from radzoo import hookimpl
from radzoo.components.registry import lazy

_HERE = "radzoo.plugins.evaluators"


@hookimpl
def radzoo_register_evaluators(registry) -> None:
    """The LLM judge and the weight-based clinical metrics."""
    registry.add("chexprompt", lazy(f"{_HERE}.chexprompt:CheXpromptEvaluator"),
                 description="CheXprompt LLM judge on any OpenAI-compatible endpoint "
                 "(options model, base_url, api_key_env, api_version for Azure, cache_dir, concurrency)",
                 license="Apache-2.0 (radzoo); prompt design after microsoft/chexprompt (MIT)",
                 paper="Zambrano Chaves et al. 2025 (LLaVA-Rad, CheXprompt)", needs="judge endpoint")
    registry.add("chexbert", lazy(f"{_HERE}.chexbert:CheXbertF1Evaluator"),
                 description="CheXpert F1 (14 and 5, micro/macro) from CheXbert labels; "
                 "options checkpoint_path (chexbert.pth), bert_path (bert-base-uncased tokenizer), uncertain",
                 license="CheXbert weights: Stanford research license; code Apache-2.0 (radzoo)",
                 paper="Smit et al. 2020 (CheXbert)", needs="weights")
    registry.add("radgraph", lazy(f"{_HERE}.radgraph_f1:RadGraphF1Evaluator"),
                 description="RadGraph F1 simple/partial (headline)/complete from RadGraph "
                 "annotations (option annotations_path: JSON written by the radgraph package)",
                 license="Apache-2.0 (radzoo)", paper="Jain et al. 2021 (RadGraph); Delbrouck et al. 2022",
                 needs="weights")
    registry.add("radcliq", lazy(f"{_HERE}.radcliq:RadCliQEvaluator"),
                 description="RadCliQ-v1 (lower is better) from RadGraph, BERTScore, CheXbert "
                 "embedding similarity and BLEU-2 with the published coefficients; needs all four offline",
                 license="Apache-2.0 (radzoo); coefficients from rajpurkarlab/CXR-Report-Metric (MIT)",
                 paper="Yu et al. 2023 (RadCliQ)", needs="weights")
    registry.add("green_judge", lazy(f"{_HERE}.green_judge:GreenJudgeEvaluator"),
                 description="GREEN-style score (matched / (matched + significant "
                 "errors)) from the CheXprompt judge; options as chexprompt",
                 license="Apache-2.0 (radzoo)", paper="Ostmeier et al. 2024 (GREEN)", needs="judge endpoint")
