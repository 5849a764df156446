"""CIDEr-D (Vedantam et al. 2015) computed natively, equal to pycocoevalcap's ``CiderScorer`` (n=4, sigma=6).

Written out here so the default metric set runs on a plain install (pycocoevalcap is a test dependency, used
to check this module). Kept as pycocoevalcap computes it, quirks included, because published numbers use it:
- document frequency: per n-gram, the number of evaluated samples whose references contain it, over the
  references of the whole evaluated set; idf = log(samples) - log(max(1, df));
- each hypothesis / reference is a tf-idf vector per n-gram order; similarity is clipped
  (``min(hyp, ref) * ref``) and divided by both norms;
- the Gaussian length penalty exp(-delta^2 / (2 sigma^2)) uses, as pycocoevalcap does, the count of *bigrams*
  as the "length" (its ``if n == 1`` on a 0-based order index);
- the score is the mean over the four orders, divided by the number of references, times 10.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

NGRAM_ORDER = 4
SIGMA = 6.0

NgramCounts = dict[tuple[str, ...], int]


def ngram_counts(sentence: str, n: int = NGRAM_ORDER) -> NgramCounts:
    """Counts of every 1..n-gram of a whitespace-tokenised sentence (pycocoevalcap ``precook``)."""
    words = sentence.split()
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


def _tfidf(counts: NgramCounts, document_frequency: dict[tuple[str, ...], float], log_samples: float,
           n: int) -> tuple[list[dict[tuple[str, ...], float]], list[float], int]:
    """(tf-idf vector per order, its norm per order, bigram count used as length) as ``counts2vec``."""
    vectors: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
    squares = [0.0] * n
    length = 0
    for ngram, term_frequency in counts.items():
        order = len(ngram) - 1
        weight = float(term_frequency) * (log_samples - math.log(max(1.0, document_frequency.get(ngram, 0.0))))
        vectors[order][ngram] = weight
        squares[order] += weight ** 2
        if order == 1:  # pycocoevalcap's quirk: the "length" is the number of bigrams
            length += term_frequency
    return vectors, [math.sqrt(s) for s in squares], length


def _similarity(hyp: tuple, ref: tuple, n: int, sigma: float) -> list[float]:
    """Clipped cosine similarity per order with the Gaussian length penalty (pycocoevalcap ``sim``)."""
    (vec_hyp, norm_hyp, len_hyp), (vec_ref, norm_ref, len_ref) = hyp, ref
    penalty = math.e ** (-(float(len_hyp - len_ref) ** 2) / (2 * sigma ** 2))
    values = []
    for order in range(n):
        value = 0.0
        for ngram, weight in vec_hyp[order].items():
            ref_weight = vec_ref[order].get(ngram, 0.0)
            value += min(weight, ref_weight) * ref_weight
        if norm_hyp[order] != 0 and norm_ref[order] != 0:
            value /= norm_hyp[order] * norm_ref[order]
        values.append(value * penalty)
    return values


def cider_d_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]], n: int = NGRAM_ORDER,
                   sigma: float = SIGMA) -> list[float]:
    """Per-sample CIDEr-D of tokenised ``hypotheses`` against their lists of tokenised ``references``."""
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} reference lists")
    ref_counts = [[ngram_counts(r, n) for r in refs] for refs in references]
    document_frequency: dict[tuple[str, ...], float] = defaultdict(float)
    for refs in ref_counts:
        for ngram in {g for counts in refs for g in counts}:
            document_frequency[ngram] += 1
    if not hypotheses:
        return []
    log_samples = math.log(float(len(references)))
    scores = []
    for hypothesis, refs in zip(hypotheses, ref_counts):
        hyp = _tfidf(ngram_counts(hypothesis, n), document_frequency, log_samples, n)
        total = [0.0] * n
        for counts in refs:
            ref = _tfidf(counts, document_frequency, log_samples, n)
            total = [t + s for t, s in zip(total, _similarity(hyp, ref, n, sigma))]
        scores.append(sum(total) / n / len(refs) * 10.0)
    return scores
