"""The default metrics on a plain install: `radzoo evaluate` and a short `radzoo compare` in a child process
where the optional extras (pycocoevalcap, bert_score, the rexrank packages) cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from radzoo.evaluation.pipeline import DEFAULT_METRICS

EXTRAS = ("pycocoevalcap", "bert_score", "radgraph", "fast_bleu", "RaTEScore", "radeval")
# `python -c WITHOUT_EXTRAS ARGS...` runs `radzoo ARGS` with the extras hidden: importing them raises
# ModuleNotFoundError exactly as on an install without the [nlg] extra.
WITHOUT_EXTRAS = f"""
import sys
from importlib.abc import MetaPathFinder

class HideExtras(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, HideExtras())
try:
    import pycocoevalcap  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    sys.exit("the extras are still importable")
from radzoo.cli import main
sys.exit(main(sys.argv[1:]))
"""


def radzoo_without_extras(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, *map(str, args)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=600)


def test_evaluate_runs_the_default_metrics_without_extras(tmp_path: Path) -> None:
    rows = [("Small left pleural effusion. Heart size normal.", "Small left effusion. Normal heart size."),
            ("No pneumothorax.", "Moderate cardiomegaly."), ("The lungs are clear.", "The lungs are clear.")]
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, "prediction": p, "reference": r}) + "\n"
                                   for i, (p, r) in enumerate(rows)))
    done = radzoo_without_extras("evaluate", "--predictions", predictions, "--bootstrap", "10", "--out",
                                 tmp_path / "metrics.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert sorted(result["evaluators"]) == sorted(DEFAULT_METRICS)
    assert result["metrics"]["cider"]["value"] > 0 and "bleu_4" in result["metrics"]
    asked_for_java = radzoo_without_extras("evaluate", "--predictions", predictions, "--metrics", "bleu", "--option",
                                           "bleu.tokenizer=ptb", "--out", tmp_path / "ptb.json", cwd=tmp_path)
    assert asked_for_java.returncode == 2 and "Traceback" not in asked_for_java.stderr
    assert "bleu: tokenizer 'ptb' runs pycocoevalcap's Java PTBTokenizer, which is not installed" in \
        asked_for_java.stderr


def test_rexrank_suite_writes_bleu_score_and_names_every_other_column_without_extras(tmp_path: Path) -> None:
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, "prediction": p, "reference": r}) + "\n" for i, (p, r) in
                                   enumerate([("No effusion.", "No pleural effusion."), ("Clear lungs.", "Clear.")])))
    done = radzoo_without_extras("evaluate", "--predictions", predictions, "--suite", "rexrank", "--bootstrap", "10",
                                 "--option", "rexrank_bertscore.model_path=" + str(tmp_path), "--out",
                                 tmp_path / "metrics.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert list(result["metrics"]) == ["bleu_score"] and result["suite"] == "rexrank"
    lines = [line for line in done.stdout.splitlines() if line.startswith("not computed: ")]
    assert [line.split()[2] for line in lines] == ["bertscore", "semb_score", "radgraph_combined", "1/RadCliQ-v1",
                                                   "ratescore", "green_score"]
    assert sorted(result["not_computed"]) == sorted(["rexrank_bertscore", "semb_score", "radgraph", "rexrank_radcliq",
                                                     "ratescore", "green"])
    assert "has no config.json" in lines[0] and "hf download distilroberta-base" in lines[0]
    assert "StanfordAIMI/RRG_scorers radgraph.tar.gz" in lines[2] and "pip install" in lines[5]


@pytest.mark.slow
def test_compare_finishes_with_the_default_metrics_without_extras(tmp_path: Path) -> None:
    from radzoo.data.synthetic import generate

    data = generate(tmp_path / "set", 24, seed=3, image_size=64)
    settings = ["trainer.progress_bar=false", "generation.max_new_tokens=4", "stages.0.max_steps=1",
                "stages.1.max_steps=1", "stages.0.batch_size=4", "stages.1.batch_size=4"]
    out = tmp_path / "compare"
    done = radzoo_without_extras("compare", "demo/llava-rad", *settings, "--data", f"synthetic:{data}",
                                 "--baselines", "constant", "--bootstrap", "10", "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    board = json.loads((out / "leaderboard.json").read_text())
    assert {"bleu_4", "rouge_l", "cider", "chexpert_micro_f1_14"} <= set(board["metrics"])
    assert {r["name"] for r in board["rows"]} == {"demo-llava-rad", "constant"}
