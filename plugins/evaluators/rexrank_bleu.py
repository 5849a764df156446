"""ReXrank's ``bleu_score``: per-study BLEU-2 as CXR-Report-Metric computes it (``add_bleu_col`` in
CXRMetric/run_eval.py), i.e. fast-bleu's ``BLEU([reference], {"bigram": (1/2, 1/2)})`` on its ``prep_reports``
tokens, then the mean over studies.

Tokens: lower-case, every "." becomes " .", split on single spaces, empty tokens dropped. fast-bleu's defaults
(fast_bleu/cpp_sources/sources/nltk.cpp ``corpus_bleu``): modified n-gram precision with the denominator at
least 1; the score is 0 when no unigram matches (an empty prediction included); otherwise a zero bigram
precision is smoothed to 0.1 / (bigrams in the prediction) (smoothing function 1, epsilon 0.1, as nltk's
method1); brevity penalty exp(1 - r/c) when the prediction is not longer than the reference. Checked equal to
fast-bleu on 500 real IU X-ray report pairs (tests/plugins/test_rexrank_bleu.py).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from radzoo.plugins.evaluators.ngram_metrics import check_pairs

EPSILON = 0.1  # fast-bleu's smoothing function 1


def rexrank_tokens(text: str) -> list[str]:
    """CXR-Report-Metric's ``prep_reports`` for one report."""
    return [token for token in str(text).lower().replace(".", " .").split(" ") if token != ""]


def _precision(hypothesis: list[str], reference: list[str], n: int) -> tuple[int, int]:
    hyp = Counter(tuple(hypothesis[i:i + n]) for i in range(len(hypothesis) - n + 1))
    ref = Counter(tuple(reference[i:i + n]) for i in range(len(reference) - n + 1))
    return sum(min(count, ref[gram]) for gram, count in hyp.items()), max(1, sum(hyp.values()))


def bleu2_fast_bleu(prediction: str, reference: str) -> float:
    """Sentence BLEU-2 of one prediction against one reference, as fast-bleu 0.0.90 computes it."""
    hypothesis, gold = rexrank_tokens(prediction), rexrank_tokens(reference)
    precisions = [_precision(hypothesis, gold, n) for n in (1, 2)]
    if precisions[0][0] == 0:
        return 0.0
    log_sum = sum(0.5 * math.log(matched / total if matched else EPSILON / total) for matched, total in precisions)
    c, r = len(hypothesis), len(gold)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(log_sum)


class BleuScoreEvaluator:
    """ReXrank ``bleu_score``: the mean per-study BLEU-2 (fast-bleu, CXR-Report-Metric tokens)."""

    name = "bleu_score"
    version = "1"
    metric_names = ("bleu_score",)
    higher_is_better = {"bleu_score": True}

    def options(self) -> dict[str, Any]:
        return {"definition": "fast-bleu BLEU-2, weights (1/2, 1/2), CXR-Report-Metric prep_reports tokens"}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 1]: each study's BLEU-2."""
        check_pairs(predictions, references)
        return np.array([[bleu2_fast_bleu(p, r)] for p, r in zip(predictions, references)], dtype=np.float64
                        ).reshape(len(predictions), 1)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        return {"bleu_score": float(chosen[:, 0].mean()) if len(chosen) else float("nan")}
