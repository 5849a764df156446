"""ReXrank bleu_score equals fast-bleu (the package CXR-Report-Metric calls), run here on 500 synthetic report pairs
and hand-written edge cases (real IU X-ray pairs: bench/rexrank_fidelity.py)."""

from __future__ import annotations

import numpy as np
import pytest
from report_pairs import edge_pairs, synthetic_pairs

from radzoo.evaluation.pipeline import evaluate
from radzoo.plugins.evaluators.rexrank_bleu import BleuScoreEvaluator, bleu2_fast_bleu, rexrank_tokens

PREDICTIONS, REFERENCES = synthetic_pairs(500)


def fast_bleu_scores(predictions: list[str], references: list[str]) -> np.ndarray:
    """Per-pair BLEU-2 as CXR-Report-Metric's add_bleu_col calls fast-bleu (one reference per study)."""
    from fast_bleu import BLEU

    return np.array([BLEU([rexrank_tokens(r)], {"bigram": (1 / 2.0, 1 / 2.0)}).get_score([rexrank_tokens(p)])
                     ["bigram"][0] for p, r in zip(predictions, references)])


def test_tokens_are_cxr_report_metric_prep_reports():
    assert rexrank_tokens("No  Effusion.Heart normal. ") == ["no", "effusion", ".heart", "normal", "."]
    assert rexrank_tokens("a\nb.") == ["a\nb", "."]  # only single spaces split, as str.split(" ")


def test_equals_fast_bleu_on_500_synthetic_pairs():
    stats = BleuScoreEvaluator().sample_stats(PREDICTIONS, REFERENCES)
    expected = fast_bleu_scores(PREDICTIONS, REFERENCES)
    assert len(PREDICTIONS) == 500 and len(set(np.round(expected, 6))) > 100  # varied scores, not one value
    assert np.abs(stats[:, 0] - expected).max() < 1e-6


def test_equals_fast_bleu_on_edge_cases():
    predictions, references = edge_pairs()
    ours = [bleu2_fast_bleu(p, r) for p, r in zip(predictions, references)]
    assert np.abs(np.array(ours) - fast_bleu_scores(predictions, references)).max() < 1e-6
    smoothed = bleu2_fast_bleu("effusion heart", "no effusion")  # one unigram matches, no bigram: smoothed
    assert smoothed == pytest.approx(np.exp(1 - 2 / 2) * np.sqrt(0.5 * 0.1 / 1))


def test_evaluate_writes_the_mean_with_a_bootstrap_ci():
    expected = fast_bleu_scores(PREDICTIONS[:50], REFERENCES[:50])
    result = evaluate(PREDICTIONS[:50], REFERENCES[:50], metrics=["bleu_score"], bootstrap=50)
    entry = result["metrics"]["bleu_score"]
    assert entry["value"] == pytest.approx(expected.mean())
    assert entry["ci"][0] < entry["value"] < entry["ci"][1]
    assert result["per_sample"]["bleu_score"] == pytest.approx(list(expected))
