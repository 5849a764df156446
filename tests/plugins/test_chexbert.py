"""CheXbert labeler and F1 evaluator with a tiny randomly initialised model saved in chexbert.pth's layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radzoo.plugins.evaluators.chexbert import CONDITIONS, CheXbertF1Evaluator, CheXbertLabeler, CheXbertModel
from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS

WORDS = ["no", "pleural", "effusion", "heart", "size", "normal", "small", "left", "right", "pneumothorax", "."]


def save_tiny_chexbert(root):
    """(checkpoint path, bert dir) of a tiny CheXbert; head i is biased towards class i % 4 (i % 2 for head 13)."""
    from transformers import BertConfig, BertTokenizer

    bert_dir = root / "bert"
    bert_dir.mkdir()
    vocab = bert_dir / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizer(vocab=str(vocab)).save_pretrained(str(bert_dir))
    config = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    config.save_pretrained(str(bert_dir))
    torch.manual_seed(0)
    model = CheXbertModel(config)
    with torch.no_grad():
        for i, head in enumerate(model.linear_heads):
            head.weight.zero_()
            head.bias.zero_()
            head.bias[i % head.bias.numel()] = 5.0
    state = {f"module.{k}": v for k, v in model.state_dict().items()}  # saved from nn.DataParallel
    state["module.bert.embeddings.position_ids"] = torch.arange(64)[None]  # a buffer older transformers saved
    checkpoint = root / "chexbert.pth"
    torch.save({"epoch": 1, "model_state_dict": state}, checkpoint)
    return checkpoint, bert_dir


@pytest.fixture(scope="module")
def tiny_chexbert(tmp_path_factory):
    return save_tiny_chexbert(tmp_path_factory.mktemp("chexbert"))


def expected_labels():
    by_condition = {}
    for i, name in enumerate(CONDITIONS):
        cls = i % 2 if name == "No Finding" else i % 4
        by_condition[name] = (None, 1.0, 0.0, -1.0)[cls]
    return [by_condition[name] for name in OBSERVATIONS]


def test_labels_follow_heads_and_class_mapping(tiny_chexbert):
    checkpoint, bert_dir = tiny_chexbert
    labeler = CheXbertLabeler(str(checkpoint), str(bert_dir), batch_size=2)
    reports = ["No pleural effusion.", "", "heart size normal " * 40, "Small left pneumothorax."]
    labels = labeler.label(reports)
    assert len(labels) == 4 and all(len(row) == 14 for row in labels)
    assert all(row == expected_labels() for row in labels)
    embeddings = labeler.embed(reports)
    assert embeddings.shape == (4, 16) and np.isfinite(embeddings).all()
    assert not np.allclose(embeddings[0], embeddings[3])  # different texts, different embeddings


def test_random_heads_give_valid_labels(tiny_chexbert, tmp_path):
    checkpoint, bert_dir = tiny_chexbert
    torch.manual_seed(1)
    from transformers import BertConfig

    model = CheXbertModel(BertConfig.from_pretrained(str(bert_dir)))
    torch.save({"model_state_dict": model.state_dict()}, tmp_path / "plain.pth")  # no module. prefix
    labels = CheXbertLabeler(str(tmp_path / "plain.pth"), str(bert_dir)).label(["No pleural effusion."] * 3)
    values = {v for row in labels for v in row}
    assert values <= {1.0, 0.0, -1.0, None}
    assert labels[0][OBSERVATIONS.index("No Finding")] in (1.0, None)


def test_f1_evaluator_from_chexbert_labels(tiny_chexbert):
    checkpoint, bert_dir = tiny_chexbert
    evaluator = CheXbertF1Evaluator(checkpoint_path=str(checkpoint), bert_path=str(bert_dir), uncertain="negative")
    stats = evaluator.sample_stats(["No pleural effusion.", "heart size normal"], ["Small effusion.", "normal"])
    assert stats.shape == (2, 2, 14, 3)
    metrics = evaluator.aggregate(stats)
    assert set(metrics) == set(evaluator.metric_names) and all(m.startswith("chexbert_") for m in metrics)
    # the biased heads label every report alike: positives agree, so F1 is perfect where anything is positive
    assert metrics["chexbert_micro_f1_14"] == pytest.approx(1.0)
    assert metrics["chexbert_micro_f1_14_uncertain_positive"] == pytest.approx(1.0)
    assert evaluator.options()["uncertain"] == "negative" and evaluator.options()["labeler"] == "chexbert"


def test_missing_weights_name_the_file_and_where_to_get_it(tiny_chexbert, tmp_path):
    _, bert_dir = tiny_chexbert
    missing = tmp_path / "models" / "chexbert.pth"
    with pytest.raises(FileNotFoundError, match=r"chexbert\.pth not found.*checkpoint_path"):
        CheXbertLabeler(str(missing), str(bert_dir))
    with pytest.raises(ValueError, match="checkpoint_path"):
        CheXbertLabeler(None, str(bert_dir))
    with pytest.raises(FileNotFoundError, match="bert_path"):
        CheXbertLabeler(str(tiny_chexbert[0]), str(tmp_path / "no-bert"))


def test_wrong_layout_is_a_clear_error(tiny_chexbert, tmp_path):
    _, bert_dir = tiny_chexbert
    torch.save({"model_state_dict": {"encoder.weight": torch.zeros(2)}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="does not match the CheXbert layout"):
        CheXbertLabeler(str(tmp_path / "other.pth"), str(bert_dir))


def test_registered(tiny_chexbert):
    from radzoo.evaluation.pipeline import create_evaluator

    checkpoint, bert_dir = tiny_chexbert
    evaluator = create_evaluator("chexbert", {"checkpoint_path": str(checkpoint), "bert_path": str(bert_dir),
                                              "uncertain": "negative"})
    direct = CheXbertF1Evaluator(checkpoint_path=str(checkpoint), bert_path=str(bert_dir), uncertain="negative")
    assert evaluator.name == "chexbert" and evaluator.options() == direct.options()  # the options reach it
    predictions, references = ["No pleural effusion.", "heart size normal"], ["Small effusion.", "normal"]
    assert evaluator.aggregate(evaluator.sample_stats(predictions, references)) == \
        direct.aggregate(direct.sample_stats(predictions, references))
