"""radzoo's radgraph_combined path (the RadGraph model run from a local folder through the radgraph package) on a
tiny random RadGraph model in the package's on-disk format, checked against the package's own output under the
transformers it was written for (golden: tests/plugins/data/make_radgraph_golden.py, radgraph 0.1.18 +
transformers 4.57.1) and against the package called directly here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_radgraph import save_tiny_radgraph

from radzoo.errors import MissingFileError
from radzoo.evaluation.pipeline import create_evaluator
from radzoo.plugins.evaluators.radgraph_f1 import pair_scores
from radzoo.plugins.evaluators.radgraph_model import RadGraphModel

sys.path.insert(0, str(Path(__file__).parent / "data"))  # the golden script names the texts it annotated
from make_radgraph_golden import SEED, texts  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "data" / "radgraph_golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model_dir, bert_dir = save_tiny_radgraph(tmp_path_factory.mktemp("radgraph"), seed=SEED)
    return model_dir, bert_dir


@pytest.mark.slow
def test_annotations_equal_the_radgraph_package_under_transformers_4(tiny):
    model_dir, bert_dir = tiny
    ours = RadGraphModel(str(model_dir), bert_path=str(bert_dir)).annotate(texts())
    assert sum(len(a["entities"]) for a in GOLDEN["annotations"]) > 100  # the tiny model does find entities
    for mine, theirs in zip(ours, GOLDEN["annotations"], strict=True):
        assert mine["text"] == theirs["text"] and mine["entities"] == theirs["entities"]


@pytest.mark.slow
def test_radgraph_columns_equal_the_package_rewards(tiny):
    model_dir, bert_dir = tiny
    all_texts = texts()
    hypotheses, references = ([all_texts[h] for h, _ in GOLDEN["pairs"]], [all_texts[r] for _, r in GOLDEN["pairs"]])
    evaluator = create_evaluator("radgraph", {"model_path": str(model_dir), "bert_path": str(bert_dir)})
    stats = evaluator.sample_stats(hypotheses, references)
    assert np.abs(stats[:, [0, 3, 6]] - np.array(GOLDEN["rewards"])).max() < 1e-6
    annotations = GOLDEN["annotations"]
    combined = [np.mean(pair_scores(annotations[h], annotations[r])[9:11]) for h, r in GOLDEN["pairs"]]
    assert np.abs(stats[:, 9:11].mean(axis=1) - np.array(combined)).max() < 1e-6
    assert len(set(np.round(combined, 6))) > 5  # varied, not all zero


@pytest.mark.slow
def test_staged_folder_runs_as_the_package_called_directly(tiny, tmp_path):
    """radzoo stages links to the user's folder with config.json naming bert_path; the package reads its cache."""
    from radgraph import RadGraph

    model_dir, bert_dir = tiny
    direct = RadGraph(model_type="radgraph", model_cache_dir=str(model_dir.parent), cuda=-1)(texts()[:4])
    staged = RadGraphModel(str(model_dir), bert_path=str(bert_dir)).annotate(texts()[:4])
    assert [direct[str(i)]["entities"] for i in range(4)] == [a["entities"] for a in staged]


def test_a_missing_model_file_is_named_with_how_to_get_it(tiny, tmp_path):
    model_dir, _ = tiny
    (tmp_path / "config.json").write_text((model_dir / "config.json").read_text())
    with pytest.raises(MissingFileError, match=r"lacks vocabulary, weights.th; download radgraph.tar.gz"):
        RadGraphModel(str(tmp_path))
