"""ReXrank's model-based columns on tiny random weights of the real architectures, each checked equal to the
reference package run on the same weights and texts radzoo makes (synthetic reports and edge cases); the same checks
on real IU X-ray pairs are bench/rexrank_fidelity.py. This checks the algorithm, not the weights."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from report_pairs import EDGE, synthetic_pairs, synthetic_reports
from test_chexbert import save_tiny_chexbert
from test_chexprompt import SECRET, JudgeServer

from radzoo.evaluation.pipeline import create_evaluator
from radzoo.plugins.evaluators.green_model import GreenEvaluator, parse_green
from radzoo.plugins.evaluators.radcliq_model import radcliq_v1
from radzoo.plugins.evaluators.radgraph_f1 import pair_scores
from radzoo.plugins.evaluators.rexrank_bleu import bleu2_fast_bleu

DATA = Path(__file__).parent / "data"
N = 24  # synthetic pairs per model test (tiny models, two shared cores), then edge cases against a report
PREDICTIONS, REFERENCES = synthetic_pairs(N)
PREDICTIONS, REFERENCES = PREDICTIONS + EDGE[1:], REFERENCES + [REFERENCES[0]] * (len(EDGE) - 1)
GREEN = json.loads((DATA / "green_golden.json").read_text(encoding="utf-8"))["rows"]


def save_tiny_roberta(root: Path) -> Path:
    """A 2-layer RoBERTa with a byte-level BPE trained on synthetic reports, saved as distilroberta-base is."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    folder = root / "distilroberta-tiny"
    folder.mkdir()
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(synthetic_reports(200, seed=1), vocab_size=400,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=128
                     ).save_pretrained(str(folder))
    config = RobertaConfig(vocab_size=bpe.get_vocab_size(), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=130, pad_token_id=1)
    RobertaModel(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("rexrank")
    checkpoint, bert_dir = save_tiny_chexbert(root)
    return {"roberta": save_tiny_roberta(root), "checkpoint": checkpoint, "bert": bert_dir}


@pytest.mark.slow
def test_bertscore_equals_bert_score_called_as_cxr_report_metric(tiny):
    from bert_score import BERTScorer

    evaluator = create_evaluator("rexrank_bertscore", {"model_path": str(tiny["roberta"]), "num_layers": 2})
    ours = evaluator.sample_stats(PREDICTIONS, REFERENCES)[:, 0]
    # CXRMetric/run_eval.py add_bertscore_col: runs of spaces collapsed, rescaled with the packaged baseline, no idf
    reference = BERTScorer(model_type=str(tiny["roberta"]), num_layers=2, batch_size=256, lang="en",
                           rescale_with_baseline=True, idf=False, baseline_path=evaluator.baseline_path)
    _, _, f1 = reference.score([re.sub(r" +", " ", p) for p in PREDICTIONS],
                               [re.sub(r" +", " ", r) for r in REFERENCES])
    assert np.abs(ours - f1.double().numpy()).max() < 1e-6
    assert evaluator.baseline_path.endswith("distilroberta-base.tsv") and not np.allclose(ours, ours[0])


def random_annotation(text: str, rng: random.Random) -> dict:
    """A RadGraph-shaped annotation of a text: random word spans, labels and relations."""
    words = text.split()
    chosen = sorted(rng.sample(range(len(words)), min(len(words), rng.randint(0, 8))))
    entities = {str(i + 1): {"tokens": words[w], "label": rng.choice(["ANAT-DP", "OBS-DP", "OBS-DA", "OBS-U"]),
                             "start_ix": w, "end_ix": w, "relations": []} for i, w in enumerate(chosen)}
    for key, entity in entities.items():
        for _ in range(rng.randint(0, 2)):
            target = rng.choice(list(entities))
            if target != key:
                entity["relations"].append([rng.choice(["modify", "located_at", "suggestive_of"]), target])
    return {"text": text, "entities": entities}


@pytest.mark.slow
def test_radgraph_rewards_equal_the_radgraph_package():
    from radgraph.rewards import compute_reward

    rng = random.Random(0)
    for prediction, reference in zip(PREDICTIONS * 4, REFERENCES * 4):
        hypothesis, gold = random_annotation(prediction, rng), random_annotation(reference, rng)
        ours = pair_scores(hypothesis, gold)
        theirs = compute_reward(hypothesis, gold, "all")
        assert ours[0:9:3] == pytest.approx(list(theirs), abs=1e-12)


def test_semb_score_is_the_cosine_of_chexbert_cls_embeddings(tiny):
    from radzoo.plugins.evaluators.chexbert import CheXbertLabeler

    options = {"checkpoint_path": str(tiny["checkpoint"]), "bert_path": str(tiny["bert"])}
    ours = create_evaluator("semb_score", options).sample_stats(PREDICTIONS, REFERENCES)[:, 0]
    labeler = CheXbertLabeler(**options)
    pred, ref = labeler.embed(PREDICTIONS), labeler.embed(REFERENCES)
    by_hand = [(r * p).sum() / (np.linalg.norm(r) * np.linalg.norm(p)) for r, p in zip(ref, pred)]  # add_semb_col
    assert np.abs(ours - np.array(by_hand)).max() < 1e-9


@pytest.mark.slow
def test_inverse_radcliq_from_the_four_columns(tiny, tmp_path):
    texts = sorted(set(PREDICTIONS + REFERENCES))
    annotations = {str(i): random_annotation(t, random.Random(i)) for i, t in enumerate(texts)}
    (tmp_path / "radgraph.json").write_text(json.dumps(annotations))
    options = {"radgraph": {"annotations_path": str(tmp_path / "radgraph.json")},
               "rexrank_bertscore": {"model_path": str(tiny["roberta"]), "num_layers": 2},
               "semb_score": {"checkpoint_path": str(tiny["checkpoint"]), "bert_path": str(tiny["bert"])}}
    evaluator = create_evaluator("rexrank_radcliq", options)
    stats = evaluator.sample_stats(PREDICTIONS, REFERENCES)
    columns = np.stack([create_evaluator("radgraph", options["radgraph"]).sample_stats(PREDICTIONS, REFERENCES)[:, 9:11]
                        .mean(axis=1),
                        create_evaluator("rexrank_bertscore", options["rexrank_bertscore"]).sample_stats(
                            PREDICTIONS, REFERENCES)[:, 0],
                        create_evaluator("semb_score", options["semb_score"]).sample_stats(
                            PREDICTIONS, REFERENCES)[:, 0],
                        [bleu2_fast_bleu(p, r) for p, r in zip(PREDICTIONS, REFERENCES)]], axis=1)
    assert stats[:, 0] == pytest.approx(radcliq_v1(columns))
    # RadEval CompositeMetric.predict: 1 / mean of the per-study scores
    assert evaluator.aggregate(stats)["1/RadCliQ-v1"] == pytest.approx(1 / radcliq_v1(columns).mean())
    assert evaluator.higher_is_better["1/RadCliQ-v1"]


def test_green_parse_equals_greens_code_on_the_golden_answers():
    for row in GREEN:
        matched, *significant = parse_green(row["answer"])
        assert (matched, significant) == (row["matched"], row["significant"]), row["answer"]


@pytest.fixture
def fake_radeval(tmp_path, monkeypatch):
    """A RadEval install whose package import fails: GREEN's prompt must be read from its file alone."""
    root = tmp_path / "site" / "radeval"
    (root / "metrics" / "green_score").mkdir(parents=True)
    (root / "__init__.py").write_text("raise ImportError('importing radeval pulls in every metric')\n")
    (root / "metrics" / "green_score" / "utils.py").write_text(
        "def make_prompt(text1, text2, max_len=300):\n"
        "    return f'Reference findings: \"\"\"{text1}\"\"\"\\nCandidate findings: \"\"\"{text2}\"\"\"'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("JUDGE_KEY", SECRET)


def test_green_score_from_a_served_model_through_the_judge_client(fake_radeval, tmp_path):
    candidates = [f"candidate {i}" for i in range(len(GREEN))]
    answers = dict(zip(candidates, (row["answer"] for row in GREEN)))
    with JudgeServer(lambda candidate, attempt: (200, {}, answers[candidate], 0.0)) as server:
        evaluator = GreenEvaluator(model="green-radllama2-7b", base_url=server.url, api_key_env="JUDGE_KEY",
                                   cache_dir=str(tmp_path / "cache"), timeout=2.0)
        stats = evaluator.sample_stats(candidates, ["Reference."] * len(candidates))
        assert len(server.requests) == len(GREEN)
        assert server.requests[0]["user"].startswith('Reference findings: """Reference."""')
    per_study = [evaluator.aggregate(stats, [i])["green_score"] for i in range(len(GREEN))]
    assert per_study == pytest.approx([row["green"] for row in GREEN])
    assert evaluator.aggregate(stats)["green_score"] == pytest.approx(np.mean([row["green"] for row in GREEN]))
