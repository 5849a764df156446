"""The temporal metrics: RadEval's temporal F1 equals RadEval's own code's figures (goldens), and the per-finding
change F1 counts (finding, change) agreement over the studies whose reference states a change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radzoo.evaluation.pipeline import create_evaluator, evaluate
from radzoo.plugins.evaluators.temporal import change_pairs, keyword_f1

GOLDENS = json.loads((Path(__file__).parent / "data" / "radeval_temporal_f1.json").read_text())


@pytest.mark.parametrize("pair", GOLDENS["pairs"], ids=lambda p: p["prediction"][:30])
def test_temporal_f1_equals_radevals_code(pair) -> None:
    assert keyword_f1(pair["prediction"], pair["reference"]) == pytest.approx(pair["f1"], abs=1e-12)


def test_the_mean_equals_radevals_and_the_evaluator_is_registered() -> None:
    evaluator = create_evaluator("temporal", None)
    stats = evaluator.sample_stats([p["prediction"] for p in GOLDENS["pairs"]],
                                   [p["reference"] for p in GOLDENS["pairs"]])
    assert evaluator.aggregate(stats)["temporal_f1"] == pytest.approx(GOLDENS["mean_f1"], abs=1e-12)


def test_change_pairs_per_finding() -> None:
    assert change_pairs("The left pleural effusion is new. Cardiomegaly is unchanged.") == \
        {("pleural effusion", "new"), ("cardiomegaly", "unchanged")}
    assert change_pairs("No change in the right-sided central line. Edema has improved; no pneumothorax.") == \
        {("support devices", "unchanged"), ("edema", "better")}
    assert change_pairs("Interval resolution of the left lower lobe opacity.") == {("consolidation", "resolved")}
    assert change_pairs("Lungs are clear.") == set()


def test_change_f1_counts_only_studies_whose_reference_states_a_change() -> None:
    references = ["The pleural effusion is new. Cardiomegaly is unchanged.", "Lungs are clear.",
                  "The pneumothorax has resolved."]
    predictions = ["The pleural effusion is new. Cardiomegaly has worsened.", "The effusion is new.",
                   "The pneumothorax has resolved."]
    evaluator = create_evaluator("temporal", None)
    metrics = evaluator.aggregate(evaluator.sample_stats(predictions, references))
    # counted: studies 1 and 3; tp = effusion-new + pneumothorax-resolved, fp = cardiomegaly-worse,
    # fn = cardiomegaly-unchanged; study 2's invented change is not counted here (temporal_f1 scores it 0)
    assert metrics["temporal_studies"] == 2
    assert metrics["temporal_change_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    result = evaluate(predictions, references, metrics=["temporal"], bootstrap=50)
    assert result["metrics"]["temporal_change_f1"]["ci"] is not None
