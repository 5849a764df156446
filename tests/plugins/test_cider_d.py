"""Native CIDEr-D equals pycocoevalcap's CiderScorer (a test dependency only) to 1e-9, per sample and corpus."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pycocoevalcap.cider.cider_scorer import CiderScorer

from radzoo.plugins.evaluators.cider_d import cider_d_scores

WORDS = ["the", "heart", "is", "mildly", "enlarged", "no", "pleural", "effusion", "left", "right", "lower", "lobe",
         "opacity", "stable", "3.5", "cm"]


def sentence(rng: random.Random, low: int = 0, high: int = 30) -> str:
    """Short vocabulary, long sentences: repeated n-grams (tf > 1) and clipping both happen."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def pycocoevalcap_scores(hyps: list[str], refs: list[list[str]]) -> np.ndarray:
    scorer = CiderScorer(n=4, sigma=6.0)
    for hyp, ref in zip(hyps, refs):
        scorer += (hyp, ref)
    return scorer.compute_score()[1]


@pytest.mark.parametrize("references_per_sample", [1, 3])
def test_native_cider_d_equals_pycocoevalcap(references_per_sample):
    rng = random.Random(references_per_sample)
    hyps = [sentence(rng) for _ in range(200)]
    refs = [[sentence(rng, low=1) for _ in range(references_per_sample)] for _ in range(200)]
    hyps[:3] = ["", refs[3][0], " ".join(["the"] * 40)]  # empty, a copy, and a long repeated word
    ours, theirs = np.array(cider_d_scores(hyps, refs)), pycocoevalcap_scores(hyps, refs)
    assert np.allclose(ours, theirs, atol=1e-9, rtol=0)
    assert abs(ours.mean() - theirs.mean()) < 1e-9
    assert ours[0] == 0.0 and ours.max() > 1.0  # not all zero: the comparison means something


def test_length_penalty_and_document_frequency_follow_the_evaluated_set():
    hyps, refs = ["no pleural effusion", "the heart is enlarged"], [["no effusion"], ["the heart is normal"]]
    alone = cider_d_scores(hyps, refs)
    widened = cider_d_scores([*hyps, "x"], [*refs, ["the heart"]])  # "the heart" now in 2 of 3 references
    assert widened[1] != pytest.approx(alone[1])  # the idf comes from the evaluated references
    short, long, _ = cider_d_scores(["no pleural effusion", "no pleural effusion seen today at all here", "x"],
                                    [["no pleural effusion"], ["no pleural effusion"], ["cardiomegaly"]])
    assert long < short  # the Gaussian length penalty
    with pytest.raises(ValueError, match="reference lists"):
        cider_d_scores(["a"], [])
