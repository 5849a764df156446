"""Bootstrap CIs and the paired test resample per-sample statistics."""

from __future__ import annotations

import random

import pytest

from radzoo.evaluation.pipeline import create_evaluator, evaluate, paired_test
from radzoo.evaluation.statistics import bootstrap_ci, paired_bootstrap_test

FINDINGS = ["Moderate cardiomegaly.", "Small left pleural effusion.", "No pneumothorax.", "Bibasilar atelectasis.",
            "Mild pulmonary edema.", "Right lower lobe consolidation.", "The lungs are clear."]


def corpus(seed: int, n: int = 120) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(FINDINGS, 3)) for _ in range(n)]


def test_bootstrap_ci_contains_estimate_and_is_seed_reproducible():
    references, predictions = corpus(0), corpus(1)
    for name in ("bleu", "rouge_l", "chexpert"):
        evaluator = create_evaluator(name)
        stats = evaluator.sample_stats(predictions, references)
        values = evaluator.aggregate(stats)
        first = bootstrap_ci(evaluator, stats, resamples=100, seed=7)
        assert first == bootstrap_ci(evaluator, stats, resamples=100, seed=7)
        assert first != bootstrap_ci(evaluator, stats, resamples=100, seed=8)
        for metric, (low, high) in first.items():
            assert low <= values[metric] <= high, (metric, low, values[metric], high)
            assert low < high


def test_paired_test_detects_a_clearly_better_system():
    references = corpus(0)
    good = [r if i % 5 else corpus(9, 1)[0] for i, r in enumerate(references)]  # 80% exact copies
    bad = corpus(1)
    evaluator = create_evaluator("bleu")
    result = paired_bootstrap_test(evaluator, evaluator.sample_stats(bad, references),
                                   evaluator.sample_stats(good, references), resamples=200, seed=0)
    assert result["bleu_4"]["delta"] > 0.3 and result["bleu_4"]["p_value"] < 0.01
    same = paired_bootstrap_test(evaluator, evaluator.sample_stats(bad, references),
                                 evaluator.sample_stats(bad, references), resamples=50, seed=0)
    assert same["bleu_4"]["delta"] == 0 and same["bleu_4"]["p_value"] > 0.5


def test_paired_test_api_over_metrics_and_clear_errors():
    references = corpus(0, 60)
    result = paired_test(corpus(1, 60), references, references, metrics=["rouge_l", "chexpert"], resamples=100)
    assert result["rouge_l"]["b"] == pytest.approx(1.0) and result["rouge_l"]["p_value"] < 0.05
    assert result["chexpert_micro_f1_5"]["delta"] > 0
    with pytest.raises(ValueError, match="one prediction per reference"):
        paired_test(references[:3], references, references)
    with pytest.raises(ValueError, match="already reported"):
        evaluate(references, references, metrics=["bleu", "bleu"], bootstrap=0)
