"""Built-in evaluators: every variant in the zoo is scored by the same code (heavy imports stay in factories)."""

from __future__ import annotations

from radzoo import hookimpl

COCO = "BSD (pycocoevalcap)"


def _bleu(**options):
    from radzoo.plugins.evaluators.ngram_metrics import BleuEvaluator

    return BleuEvaluator(**options)


def _rouge_l(**options):
    from radzoo.plugins.evaluators.ngram_metrics import RougeLEvaluator

    return RougeLEvaluator(**options)


def _cider(**options):
    from radzoo.plugins.evaluators.ngram_metrics import CiderEvaluator

    return CiderEvaluator(**options)


def _chexpert(**options):
    from radzoo.plugins.evaluators.chexpert_f1 import CheXpertF1Evaluator

    return CheXpertF1Evaluator(**options)


def _bertscore(**options):
    from radzoo.plugins.evaluators.bertscore import BertScoreEvaluator

    return BertScoreEvaluator(**options)


@hookimpl
def radzoo_register_evaluators(registry) -> None:
    """The offline n-gram metrics, the rule-based CheXpert F1 and BERTScore."""
    registry.add("bleu", _bleu, description="BLEU-1..4, equal to pycocoevalcap (option tokenizer)",
                 license=COCO, paper="Papineni et al. 2002")
    registry.add("rouge_l", _rouge_l, description="ROUGE-L F (beta 1.2), equal to pycocoevalcap",
                 license=COCO, paper="Lin 2004")
    registry.add("cider", _cider, description="CIDEr-D, native, equal to pycocoevalcap; idf fixed on the full corpus",
                 license=COCO, paper="Vedantam et al. 2015")
    registry.add("chexpert", _chexpert, description="CheXpert F1 (14 and 5, micro/macro) from radzoo's "
                 "offline rule labeler; option uncertain=positive|negative", license="Apache-2.0 (radzoo)",
                 paper="Irvin et al. 2019 (CheXpert)")
    registry.add("bertscore", _bertscore, description="BERTScore via bert-score from a local model "
                 "directory (option model_path)", license="bert-score (MIT)", paper="Zhang et al. 2020")
