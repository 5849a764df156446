"""RadCliQ-v1: the published linear model, BLEU-2, and the whole metric with tiny local component models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_chexbert import save_tiny_chexbert
from test_radgraph import REF, REF_TEXT, WRONG, WRONG_TEXT

from radzoo.plugins.evaluators.radcliq import RadCliQEvaluator
from radzoo.plugins.evaluators.radcliq_model import COEFFICIENTS, INTERCEPT, MEAN, SCALE, radcliq_v1
from radzoo.plugins.evaluators.rexrank_bleu import bleu2_fast_bleu as bleu2


def test_linear_model_uses_the_published_constants():
    assert radcliq_v1(MEAN[None])[0] == pytest.approx(INTERCEPT, abs=1e-12)
    perfect = np.ones((1, 4))
    by_hand = sum(c * (1 - m) / s for c, m, s in zip(COEFFICIENTS, MEAN, SCALE)) + INTERCEPT
    assert radcliq_v1(perfect)[0] == pytest.approx(by_hand)
    assert radcliq_v1(perfect)[0] == pytest.approx(-1.4407, abs=1e-4)  # -0.5753 - 0.6313 - 0.2340
    worse = np.array([[0.2, 0.3, 0.5, 0.1]])
    assert radcliq_v1(worse)[0] > radcliq_v1(perfect)[0]  # lower is better


def test_bleu2_sentence_level():
    assert bleu2("No pleural effusion.", "No pleural effusion.") == pytest.approx(1.0)
    # tokens: "no effusion ." vs "no pleural effusion ." -> p1 = 3/3, p2 = 1/2, brevity exp(1 - 4/3)
    assert bleu2("No effusion.", "No pleural effusion.") == pytest.approx(np.exp(1 - 4 / 3) * np.sqrt(0.5))
    assert bleu2("Cardiomegaly", "No pleural effusion.") == 0.0
    assert bleu2("", "No pleural effusion.") == 0.0


def test_missing_components_are_all_named():
    with pytest.raises(ValueError) as caught:
        RadCliQEvaluator(checkpoint_path="chexbert.pth")
    message = str(caught.value)
    for option in ("bert_path", "bertscore_model_path", "annotations_path"):
        assert option in message
    assert "checkpoint_path" not in message


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    from transformers import BertConfig, BertModel, BertTokenizer

    root = tmp_path_factory.mktemp("radcliq")
    checkpoint, bert_dir = save_tiny_chexbert(root)
    bertscore_dir = root / "bertscore"
    BertTokenizer.from_pretrained(str(bert_dir), model_max_length=64).save_pretrained(str(bertscore_dir))
    config = BertConfig(vocab_size=16, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(str(bertscore_dir))
    annotations = root / "radgraph.json"
    annotations.write_text(json.dumps({"0": REF, "1": WRONG}))
    return {"checkpoint_path": str(checkpoint), "bert_path": str(bert_dir),
            "bertscore_model_path": str(bertscore_dir), "annotations_path": str(annotations),
            "bertscore_num_layers": 2}


def test_radcliq_end_to_end_with_tiny_models(components):
    from radzoo.evaluation.pipeline import create_evaluator

    evaluator = create_evaluator("radcliq", components)
    stats = evaluator.sample_stats([REF_TEXT, WRONG_TEXT], [REF_TEXT, REF_TEXT])
    assert stats.shape == (2, 4)
    assert stats[0] == pytest.approx([1.0, 1.0, 1.0, 1.0], abs=1e-5)  # identical pair: every component perfect
    assert stats[1, 0] == pytest.approx(1 / 3) and stats[1, 3] < 1.0
    metrics = evaluator.aggregate(stats)
    assert metrics["radcliq_v1"] == pytest.approx(radcliq_v1(stats).mean())
    assert evaluator.aggregate(stats, [0])["radcliq_v1"] < evaluator.aggregate(stats, [1])["radcliq_v1"]
    assert not evaluator.higher_is_better["radcliq_v1"] and evaluator.higher_is_better["radcliq_bertscore"]


def test_components_are_the_rexrank_columns(components):
    """radcliq and --suite rexrank report the same bertscore and semb_score: the same evaluators compute them."""
    from radzoo.evaluation.pipeline import create_evaluator

    predictions, references = [REF_TEXT, WRONG_TEXT], [WRONG_TEXT, REF_TEXT]
    stats = create_evaluator("radcliq", components).sample_stats(predictions, references)
    bertscore = create_evaluator("rexrank_bertscore", {"model_path": components["bertscore_model_path"],
                                                       "num_layers": 2}).sample_stats(predictions, references)
    semb = create_evaluator("semb_score", {"checkpoint_path": components["checkpoint_path"],
                                           "bert_path": components["bert_path"]}).sample_stats(predictions, references)
    assert stats[:, 1] == pytest.approx(bertscore[:, 0], abs=1e-12)
    assert stats[:, 2] == pytest.approx(semb[:, 0], abs=1e-12)
    assert stats[:, 3] == pytest.approx([bleu2(p, r) for p, r in zip(predictions, references)])
