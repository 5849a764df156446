"""BLEU-1..4, ROUGE-L and CIDEr-D, numerically equal to pycocoevalcap (the R2Gen / LLaVA-Rad line).

Each report is tokenised (tokenization.py), then:
- BLEU keeps per-sample counts [testlen, closest reflen, guess_1..4, correct_1..4]; the corpus score sums
  them exactly as pycocoevalcap's ``BleuScorer.compute_score(option="closest")`` does, with its
  constants tiny=1e-15 and small=1e-9 and the brevity penalty on the summed lengths.
- ROUGE-L keeps [lcs, candidate length, reference length] (tokens split on single spaces, beta=1.2);
  the corpus score is the mean of the per-sample F-scores, as ``Rouge.compute_score``.
- CIDEr-D needs document frequencies over the whole reference corpus: they are computed ONCE on all
  samples (cider_d.py, a native copy of pycocoevalcap's ``CiderScorer``) and kept fixed, so a bootstrap
  resample averages per-sample scores (it does not recompute the idf on the resample).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from radzoo.errors import InputError
from radzoo.plugins.evaluators.cider_d import SIGMA, cider_d_scores
from radzoo.plugins.evaluators.tokenization import TOKENIZERS, tokenize

TINY = 1e-15  # pycocoevalcap BleuScorer: "so that if guess is 0 still return 0"
SMALL = 1e-9
ROUGE_BETA = 1.2


def check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    """Raise a clear error unless predictions and references are equally long lists of strings."""
    if len(predictions) != len(references):
        raise InputError(f"got {len(predictions)} predictions but {len(references)} references; "
                         "each prediction needs exactly one reference")
    for kind, texts in (("prediction", predictions), ("reference", references)):
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"{kind} {i} is {type(text).__name__}, expected a string")


def _select(stats: np.ndarray, indices: Sequence[int] | None) -> np.ndarray:
    return stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]


class TokenizedEvaluator:
    """Shared parts of the n-gram metrics: tokenizer option and input checks."""

    name = ""
    version = "1"
    metric_names: tuple[str, ...] = ()

    def __init__(self, tokenizer: str = "simple") -> None:
        if tokenizer not in TOKENIZERS:
            raise InputError(f"{self.name}: unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
        if tokenizer == "ptb":
            try:
                import pycocoevalcap  # noqa: F401 - only the ptb option needs it (the nlg extra)
            except ImportError:
                raise InputError(f"{self.name}: tokenizer 'ptb' runs pycocoevalcap's Java PTBTokenizer, which is not "
                                 "installed: pip install 'radzoo[nlg]' (and a Java runtime), or keep tokenizer=simple, "
                                 "which tokenises the same") from None
        self.tokenizer = tokenizer
        self.higher_is_better = {m: True for m in self.metric_names}

    def options(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer}

    def _tokenized(self, predictions: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
        check_pairs(predictions, references)
        joined = tokenize([*predictions, *references], self.tokenizer)
        return joined[: len(predictions)], joined[len(predictions):]


def bleu_counts(hypothesis: str, reference: str, n: int = 4) -> list[float]:
    """[testlen, reflen, guess_1..n, correct_1..n] for one tokenised pair (pycocoevalcap cook_test)."""
    hyp, ref = hypothesis.split(), reference.split()
    guess, correct = [], []
    for k in range(1, n + 1):
        hyp_ngrams = Counter(tuple(hyp[i:i + k]) for i in range(len(hyp) - k + 1))
        ref_ngrams = Counter(tuple(ref[i:i + k]) for i in range(len(ref) - k + 1))
        guess.append(max(0, len(hyp) - k + 1))
        correct.append(sum(min(count, ref_ngrams[g]) for g, count in hyp_ngrams.items()))
    return [len(hyp), len(ref), *guess, *correct]


class BleuEvaluator(TokenizedEvaluator):
    """Corpus BLEU-1..4 from summed n-gram counts (pycocoevalcap BleuScorer, option 'closest')."""

    name = "bleu"
    metric_names = ("bleu_1", "bleu_2", "bleu_3", "bleu_4")

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        hyps, refs = self._tokenized(predictions, references)
        return np.array([bleu_counts(h, r) for h, r in zip(hyps, refs)], dtype=np.float64).reshape(-1, 10)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        totals = _select(stats, indices).sum(axis=0)
        testlen, reflen, guess, correct = totals[0], totals[1], totals[2:6], totals[6:10]
        scores, product = [], 1.0
        for k in range(4):
            product *= (float(correct[k]) + TINY) / (float(guess[k]) + SMALL)
            scores.append(product ** (1.0 / (k + 1)))
        ratio = (float(testlen) + TINY) / (float(reflen) + SMALL)
        if ratio < 1:
            scores = [s * math.exp(1 - 1 / ratio) for s in scores]
        return dict(zip(self.metric_names, scores))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, bit-parallel (Hyyrö 2004): same value as pycocoevalcap my_lcs."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        matched = row & masks.get(token, 0)
        row = ((row + matched) | (row - matched)) & full
    return len(a) - bin(row).count("1")


class RougeLEvaluator(TokenizedEvaluator):
    """Mean sentence ROUGE-L F (beta 1.2) as pycocoevalcap's Rouge."""

    name = "rouge_l"
    metric_names = ("rouge_l",)

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        hyps, refs = self._tokenized(predictions, references)
        rows = []
        for hyp, ref in zip(hyps, refs):
            hyp_tokens, ref_tokens = hyp.split(" "), ref.split(" ")  # as pycocoevalcap: "" -> [""]
            rows.append((lcs_length(ref_tokens, hyp_tokens), len(hyp_tokens), len(ref_tokens)))
        return np.array(rows, dtype=np.float64).reshape(-1, 3)

    @staticmethod
    def f_scores(stats: np.ndarray) -> np.ndarray:
        """Per-sample ROUGE-L F from [lcs, candidate length, reference length] rows."""
        lcs, cand, ref = stats[:, 0], stats[:, 1], stats[:, 2]
        prec, rec = lcs / cand, lcs / ref
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (1 + ROUGE_BETA**2) * prec * rec / (rec + ROUGE_BETA**2 * prec)
        return np.where((prec != 0) & (rec != 0), f, 0.0)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        return {"rouge_l": float(np.mean(self.f_scores(_select(stats, indices))))}


class CiderEvaluator(TokenizedEvaluator):
    """CIDEr-D (pycocoevalcap Cider, sigma 6, x10) with document frequencies fixed on the full corpus."""

    name = "cider"
    metric_names = ("cider",)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "sigma": SIGMA, "document_frequency": "full corpus, fixed under bootstrap"}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        hyps, refs = self._tokenized(predictions, references)
        per_sample = cider_d_scores(hyps, [[ref] for ref in refs], sigma=SIGMA)
        return np.asarray(per_sample, dtype=np.float64).reshape(-1, 1)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        return {"cider": float(np.mean(_select(stats, indices)[:, 0]))}
