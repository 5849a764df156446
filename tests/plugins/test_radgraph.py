"""RadGraph F1 math on hand-written annotations (simple / partial / complete, RadCliQ's combination)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radzoo.plugins.evaluators.radgraph_f1 import RadGraphF1Evaluator, pair_scores


def entity(tokens, label, *relations):
    return {"tokens": tokens, "label": label, "start_ix": 0, "end_ix": 0, "relations": [list(r) for r in relations]}


REF_TEXT = "Small left pleural effusion."
REF = {"text": REF_TEXT, "entities": {
    "1": entity("pleural", "ANAT-DP"),
    "2": entity("effusion", "OBS-DP", ("located_at", "1")),
    "3": entity("small", "OBS-DP", ("modify", "2"))}}
# effusion related to pleural by the wrong relation; "large" instead of "small"
WRONG_TEXT = "Large pleural effusion."
WRONG = {"text": WRONG_TEXT, "entities": {
    "1": entity("pleural", "ANAT-DP"),
    "2": entity("effusion", "OBS-DP", ("modify", "1")),
    "3": entity("large", "OBS-DP", ("modify", "2"))}}
# everything right plus two extra entities
EXTRA_TEXT = "Small pleural effusion. Normal heart."
EXTRA = {"text": EXTRA_TEXT, "entities": {**REF["entities"], "4": entity("heart", "ANAT-DP"),
                                          "5": entity("normal", "OBS-DA", ("located_at", "4"))}}
EMPTY_TEXT = "Nothing to annotate here."
EMPTY = {"text": EMPTY_TEXT, "entities": {}}


def test_levels_on_a_hand_worked_pair():
    scores = pair_scores(WRONG, REF)
    simple, partial, complete = scores[0:3], scores[3:6], scores[6:9]
    assert simple == pytest.approx([2 / 3] * 3)  # pleural, effusion match; large != small
    assert partial == pytest.approx([2 / 3] * 3)  # effusion has a relation in both: still a match
    assert complete == pytest.approx([1 / 3] * 3)  # only the relation-free "pleural" matches exactly
    assert scores[9] == pytest.approx(2 / 3) and scores[10] == 0.0  # entity F1, relation F1


def test_precision_and_recall_differ_with_extra_entities():
    scores = pair_scores(EXTRA, REF)
    assert scores[3:6] == pytest.approx([0.75, 3 / 5, 1.0])
    assert scores[0:3] == pytest.approx([0.75, 3 / 5, 1.0])
    assert scores[6:9] == pytest.approx([0.75, 3 / 5, 1.0])


def test_identical_is_perfect_and_no_entities_is_zero():
    assert pair_scores(REF, REF) == pytest.approx([1.0] * 11)
    assert pair_scores(EMPTY, REF)[:9] == [0.0] * 9


@pytest.fixture
def annotations(tmp_path):
    path = tmp_path / "radgraph.json"  # the radgraph package's output layout: "0".."n-1" with text
    path.write_text(json.dumps({str(i): a for i, a in enumerate([REF, WRONG, EXTRA, EMPTY])}))
    return path


def test_evaluator_means_over_reports(annotations):
    evaluator = RadGraphF1Evaluator(annotations_path=str(annotations))
    stats = evaluator.sample_stats([WRONG_TEXT, EXTRA_TEXT, REF_TEXT, ""], [REF_TEXT] * 4)
    assert stats.shape == (4, 11)
    metrics = evaluator.aggregate(stats)
    assert metrics["radgraph_f1_partial"] == pytest.approx((2 / 3 + 0.75 + 1 + 0) / 4)
    assert metrics["radgraph_f1_complete"] == pytest.approx((1 / 3 + 0.75 + 1 + 0) / 4)
    assert metrics["radgraph_precision_partial"] == pytest.approx((2 / 3 + 0.6 + 1 + 0) / 4)
    assert evaluator.aggregate(stats, [2])["radgraph_combined"] == pytest.approx(1.0)
    assert evaluator.aggregate(stats, [0])["radgraph_combined"] == pytest.approx(1 / 3)
    np.testing.assert_array_equal(stats[3], 0.0)  # an empty prediction scores zero


def test_text_keyed_annotations_and_missing_report(tmp_path):
    path = tmp_path / "by_text.json"
    path.write_text(json.dumps({REF_TEXT: REF, WRONG_TEXT: WRONG}))
    evaluator = RadGraphF1Evaluator(annotations_path=str(path))
    assert evaluator.aggregate(evaluator.sample_stats([REF_TEXT], [REF_TEXT]))["radgraph_f1_partial"] == 1.0
    with pytest.raises(ValueError, match="no annotation.*Unseen report"):
        evaluator.sample_stats(["Unseen report."], [REF_TEXT])


def test_missing_annotations_are_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="annotations_path"):
        RadGraphF1Evaluator()
    with pytest.raises(FileNotFoundError, match="nothing.json not found"):
        RadGraphF1Evaluator(annotations_path=str(tmp_path / "nothing.json"))
