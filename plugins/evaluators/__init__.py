"""Built-in evaluators: every variant in the zoo is scored by the same code (heavy imports stay in factories)."""

from __future__ import annotations

from radzoo import hookimpl
from radzoo.components.registry import lazy

COCO = "BSD (pycocoevalcap)"
_HERE = "radzoo.plugins.evaluators"


@hookimpl
def radzoo_register_evaluators(registry) -> None:
    """The offline n-gram metrics, the rule-based CheXpert F1, the temporal metrics and BERTScore."""
    registry.add("bleu", lazy(f"{_HERE}.ngram_metrics:BleuEvaluator"),
                 description="BLEU-1..4, equal to pycocoevalcap (option tokenizer)",
                 license=COCO, paper="Papineni et al. 2002")
    registry.add("rouge_l", lazy(f"{_HERE}.ngram_metrics:RougeLEvaluator"),
                 description="ROUGE-L F (beta 1.2), equal to pycocoevalcap",
                 license=COCO, paper="Lin 2004")
    registry.add("cider", lazy(f"{_HERE}.ngram_metrics:CiderEvaluator"),
                 description="CIDEr-D, native, equal to pycocoevalcap; idf fixed on the full corpus",
                 license=COCO, paper="Vedantam et al. 2015")
    registry.add("chexpert", lazy(f"{_HERE}.chexpert_f1:CheXpertF1Evaluator"),
                 description="CheXpert F1 (14 and 5, micro/macro) from radzoo's "
                 "offline rule labeler; option uncertain=positive|negative", license="Apache-2.0 (radzoo)",
                 paper="Irvin et al. 2019 (CheXpert)")
    registry.add("temporal", lazy(f"{_HERE}.temporal:TemporalEvaluator"),
                 description="temporal_f1 (RadEval's temporal entity F1, whole-word keywords) and "
                 "temporal_change_f1 (per-finding new/worse/better/unchanged/resolved agreement)",
                 license="Apache-2.0 (radzoo)", paper="Bannur et al. 2023 (BioViL-T keywords); RadEval")
    registry.add("vqa", lazy(f"{_HERE}.vqa_scores:VqaEvaluator"),
                 description="questions about the image: closed-question accuracy, per-finding F1 from yes/no "
                 "answers, open-question F1 via the rule labeler (references: vqa_reference JSON)",
                 license="Apache-2.0 (radzoo)", paper="CXR-LLaVA (Lee et al. 2024) asks such questions")
    registry.add("bertscore", lazy(f"{_HERE}.bertscore:BertScoreEvaluator"),
                 description="BERTScore via bert-score from a local model "
                 "directory (option model_path)", license="bert-score (MIT)", paper="Zhang et al. 2020",
                 needs="weights")
    registry.add("bleu_score", lazy(f"{_HERE}.rexrank_bleu:BleuScoreEvaluator"),
                 description="ReXrank bleu_score: per-study BLEU-2 as fast-bleu computes it on CXR-Report-Metric's "
                 "tokens (checked equal to fast-bleu)", license="Apache-2.0 (radzoo)",
                 paper="Papineni et al. 2002; Zhang et al. 2024 (ReXrank)")
