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
                 description="RadGraph F1 simple/partial (headline)/complete and radgraph_combined from the "
                 "RadGraph model (options model_path, model_type, bert_path; radgraph package) or annotations_path",
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
    registry.add("rexrank_bertscore", lazy(f"{_HERE}.rexrank_columns:RexrankBertScoreEvaluator"),
                 description="ReXrank bertscore: distilroberta-base layer 5, baseline-rescaled F1, no idf "
                 "(option model_path)", license="bert-score (MIT)", paper="Zhang et al. 2020", needs="weights")
    registry.add("semb_score", lazy(f"{_HERE}.rexrank_columns:SembScoreEvaluator"),
                 description="ReXrank semb_score: cosine of CheXbert [CLS] embeddings (options checkpoint_path, "
                 "bert_path)", license="CheXbert weights: Stanford research license", paper="Yu et al. 2023",
                 needs="weights")
    registry.add("rexrank_radcliq", lazy(f"{_HERE}.rexrank_columns:InverseRadCliQEvaluator"),
                 description="ReXrank 1/RadCliQ-v1: 1 / mean RadCliQ-v1 over the four columns (options radgraph, "
                 "rexrank_bertscore, semb_score)", license="coefficients from rajpurkarlab/CXR-Report-Metric (MIT)",
                 paper="Yu et al. 2023 (RadCliQ)", needs="weights")
    registry.add("ratescore", lazy(f"{_HERE}.ratescore_metric:RaTEScoreEvaluator"),
                 description="RaTEScore via the ratescore package from local models (options ner_path, "
                 "synonym_path)", license="ratescore (MIT)", paper="Zhao et al. 2024 (RaTEScore)", needs="weights")
    registry.add("green", lazy(f"{_HERE}.green_model:GreenEvaluator"),
                 description="GREEN from a GREEN model behind an OpenAI-compatible endpoint, GREEN's prompt and "
                 "parsing (options as chexprompt)", license="Apache-2.0 (radzoo); prompt read from RadEval (MIT)",
                 paper="Ostmeier et al. 2024 (GREEN)", needs="judge endpoint")
