"""Offline evaluators: equal to pycocoevalcap, perfect on identical text, registry, evaluate API and CLI."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from radzoo.cli import main
from radzoo.evaluation.pipeline import create_evaluator, evaluate, read_predictions
from radzoo.plugins.evaluators.tokenization import simple_tokenize, tokenize

PHRASES = [
    "The heart is mildly enlarged.", "Moderate cardiomegaly.", "Small left pleural effusion.", "No pneumothorax.",
    "Right lower lobe consolidation.", "Possible early pneumonia.", "Mild pulmonary edema.",
    "Bibasilar atelectasis.", "2 cm nodule in the right upper lobe.", "The lungs are clear.",
    "Heart size is normal.", "The endotracheal tube terminates 4 cm above the carina.",
    "No acute cardiopulmonary process, (stable) since 2019-01-02; x-ray's view: PA.",
]


def reports(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(PHRASES, rng.randint(0, 5))) for _ in range(n)]


@pytest.fixture(scope="module")
def pairs():
    return reports(1, 300), reports(2, 300)


def coco_inputs(predictions, references):
    hyp, ref = tokenize(predictions), tokenize(references)
    return {i: [r] for i, r in enumerate(ref)}, {i: [h] for i, h in enumerate(hyp)}


TRICKY = [
    "No acute cardiopulmonary process, (stable) since 2019-01-02; x-ray's view.",
    "The patient's heart isn't enlarged and/or the 3.5 cm nodule [previously 2.0 cm] is 50% smaller.",
    'Lungs are "clear"... ETT 4 cm above the carina -- stable. Right IJ line; NG tube. 12:30 p.m. follow-up',
    "Mild-to-moderate edema (improved).\nLeft base opacity - atelectasis vs. pneumonia!? CANNOT exclude.",
]


def test_simple_tokenisation_drops_ptb_punctuation_and_splits_clitics():
    assert simple_tokenize("No  acute process, (stable) x-ray's 3.5 cm.\nCannot exclude.") == \
        "no acute process -lrb- stable -rrb- x-ray 's 3.5 cm can not exclude"


@pytest.mark.skipif(shutil.which("java") is None, reason="pycocoevalcap's PTBTokenizer needs java")
def test_simple_tokenisation_matches_pycocoevalcap_ptb():
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    texts = TRICKY + PHRASES  # PHRASES[-1] ends "view: PA.": PTB keeps "pa." (a state abbreviation), so does simple
    ptb = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(texts)})
    assert [simple_tokenize(t) for t in texts] == [ptb[i][0] for i in range(len(texts))]
    assert tokenize(texts, "ptb") == [ptb[i][0] for i in range(len(texts))]


def test_bleu_equals_pycocoevalcap(pairs):
    predictions, references = pairs
    evaluator = create_evaluator("bleu")
    stats = evaluator.sample_stats(predictions, references)
    ours = evaluator.aggregate(stats)
    theirs, per_sample = Bleu(4).compute_score(*coco_inputs(predictions, references), verbose=0)
    assert np.allclose(list(ours.values()), theirs, atol=1e-9, rtol=0)
    assert 0.05 < ours["bleu_4"] < 0.95
    sentence = [evaluator.aggregate(stats, [i])["bleu_2"] for i in range(len(predictions))]
    assert np.allclose(sentence, per_sample[1], atol=1e-9, rtol=0)


def test_rouge_l_and_cider_equal_pycocoevalcap(pairs):
    predictions, references = pairs
    gts, res = coco_inputs(predictions, references)
    rouge = create_evaluator("rouge_l")
    theirs, per_sample = Rouge().compute_score(gts, res)
    stats = rouge.sample_stats(predictions, references)
    assert abs(rouge.aggregate(stats)["rouge_l"] - theirs) < 1e-9
    assert np.allclose(rouge.f_scores(stats), per_sample, atol=1e-9, rtol=0)
    cider = create_evaluator("cider")
    assert abs(cider.aggregate(cider.sample_stats(predictions, references))["cider"]
               - Cider().compute_score(gts, res)[0]) < 1e-9


def test_identical_text_gives_the_perfect_score(pairs):
    texts = [t for t in pairs[0] if t] + [" ".join(PHRASES), "Findings suggest heart failure; possible mass."]
    for name in ("bleu", "rouge_l", "chexpert"):
        evaluator = create_evaluator(name, {"zero_division": 1} if name == "chexpert" else None)
        values = evaluator.aggregate(evaluator.sample_stats(texts, texts))
        assert values and all(abs(v - 1.0) < 1e-9 for v in values.values()), (name, values)
    cider = create_evaluator("cider")
    same = cider.aggregate(cider.sample_stats(texts, texts))["cider"]
    other = cider.aggregate(cider.sample_stats(texts[1:] + texts[:1], texts))["cider"]
    assert same > 5 * other


def test_chexpert_f1_counts_uncertain_by_policy():
    predictions = ["Possible pneumonia.", "Moderate cardiomegaly.", "No effusion."]
    references = ["Pneumonia.", "Moderate cardiomegaly.", "Small left pleural effusion."]
    positive = create_evaluator("chexpert", {"uncertain": "positive"})
    values = positive.aggregate(positive.sample_stats(predictions, references))
    assert values["chexpert_micro_f1_14"] == values["chexpert_micro_f1_14_uncertain_positive"]
    # uncertain-as-positive: pneumonia tp, cardiomegaly tp, effusion fn, "No Finding" of "No effusion." fp
    assert values["chexpert_micro_f1_14_uncertain_positive"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # uncertain-as-negative: pneumonia becomes a fn
    assert values["chexpert_micro_f1_14_uncertain_negative"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    assert values["chexpert_micro_f1_5"] == pytest.approx(2 / 3)  # cardiomegaly tp, effusion fn
    negative = create_evaluator("chexpert", {"uncertain": "negative"})
    assert negative.options()["uncertain"] == "negative"
    with pytest.raises(ValueError, match="uncertain"):
        create_evaluator("chexpert", {"uncertain": "maybe"})


def test_bertscore_with_a_tiny_local_model(tmp_path):
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w for p in PHRASES for w in simple_tokenize(p).split()})
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]))
    tokenizer = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"), model_max_length=128)
    tokenizer.save_pretrained(tmp_path)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(tmp_path)
    evaluator = create_evaluator("bertscore", {"model_path": str(tmp_path), "num_layers": 2})
    texts = PHRASES[:4]
    same = evaluator.aggregate(evaluator.sample_stats(texts, texts))
    assert all(abs(v - 1.0) < 1e-5 for v in same.values())
    different = evaluator.aggregate(evaluator.sample_stats(texts, texts[::-1]))
    assert different["bertscore_f1"] < 0.999
    with pytest.raises(ValueError, match="model_path"):
        create_evaluator("bertscore")
    with pytest.raises(FileNotFoundError, match="config.json"):
        create_evaluator("bertscore", {"model_path": str(tmp_path / "missing"), "num_layers": 2})


def test_evaluate_api_reports_value_ci_and_per_sample(pairs):
    predictions, references = pairs[0][:60], pairs[1][:60]
    result = evaluate(predictions, references, metrics=["bleu", "chexpert"], bootstrap=50, seed=3)
    entry = result["metrics"]["bleu_4"]
    assert entry["ci"][0] <= entry["value"] <= entry["ci"][1]
    assert entry["higher_is_better"] is True and entry["options"] == {"tokenizer": "simple"}
    assert result["metrics"]["chexpert_micro_f1_5"]["options"]["uncertain"] == "positive"
    assert len(result["per_sample"]["bleu_4"]) == 60 and result["per_sample"]["id"][0] == 0
    with pytest.raises(LookupError, match="bleu"):
        evaluate(predictions, references, metrics=["bleuu"])


def test_radzoo_evaluate_is_callable_even_after_the_module_is_imported():
    import radzoo
    import radzoo.evaluation.pipeline  # noqa: F401  binds the package attribute to the module

    result = radzoo.evaluate(["No pleural effusion."], ["No pleural effusion."], metrics=["rouge_l"], bootstrap=0)
    assert result["metrics"]["rouge_l"]["value"] == pytest.approx(1.0)


def test_read_predictions_errors_name_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "prediction": "a", "reference": "b"}\n{"id": 2, "prediction": "a"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:2: missing key\(s\) reference"):
        read_predictions(path)
    path.write_text('{"id": 1, "prediction": "a", "reference": "b"}\nnot json\n{"id": 3}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:2: not valid JSON"):
        read_predictions(path)
    path.write_text('{"id": 1, "prediction": "a", "reference": "b"}\n{"id": 2, "predic')
    with pytest.warns(UserWarning, match="p.jsonl:2: skipped a torn last line"):
        assert [r["id"] for r in read_predictions(path)] == [1]


def test_evaluate_cli_end_to_end(tmp_path, capsys):
    predictions, references = reports(5, 40), reports(6, 40)
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "prediction": p, "reference": r}) + "\n"
                            for i, (p, r) in enumerate(zip(predictions, references))))
    out = tmp_path / "out" / "metrics.json"
    argv = ["evaluate", "--predictions", str(path), "--metrics", "bleu,rouge_l,chexpert", "--bootstrap", "20",
            "--option", "chexpert.uncertain=negative", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 40 and result["per_sample"]["id"][:2] == ["s0", "s1"]
    assert result["metrics"]["chexpert_macro_f1_14"]["options"]["uncertain"] == "negative"
    assert result["metrics"]["rouge_l"]["value"] == pytest.approx(
        evaluate(predictions, references, metrics=["rouge_l"], bootstrap=0)["metrics"]["rouge_l"]["value"])
    assert not [p for p in out.parent.iterdir() if p.name != "metrics.json"]  # no temp file left behind
    assert "bleu_4" in capsys.readouterr().out
    assert main(["evaluate", "--predictions", str(tmp_path / "none.jsonl"), "--out", str(out)]) == 2
