"""ratescore column: the ratescore package (0.6.0) on tiny random local models, radzoo's evaluator against the
package's own per-pair figures (golden: tests/plugins/data/make_ratescore_golden.py). The package needs medspacy
(spaCy 3.7, numpy < 2), which radzoo's own venv cannot hold: the equality test runs in the throwaway venv the
golden script names and is skipped (not passed) elsewhere; the error tests run everywhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from radzoo.errors import InputError, MissingFileError
from radzoo.evaluation.pipeline import create_evaluator

sys.path.insert(0, str(Path(__file__).parent / "data"))  # the golden script names the pairs it scored
from make_ratescore_golden import SEED, pairs  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "data" / "ratescore_golden.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_ratescore_equals_the_package_on_tiny_local_models(tmp_path):
    pytest.importorskip("RaTEScore", reason="the ratescore package + medspacy install only in a numpy<2 venv")
    from tiny_ratescore import save_tiny_ratescore

    ner, synonym = save_tiny_ratescore(tmp_path, seed=SEED)
    candidates, references = pairs()
    stats = create_evaluator("ratescore", {"ner_path": str(ner), "synonym_path": str(synonym)}).sample_stats(
        candidates, references)
    assert len(set(np.round(GOLDEN["ratescore_per_pair"], 9))) > 10
    assert np.abs(stats[:, 0] - np.array(GOLDEN["ratescore_per_pair"])).max() < 1e-6


def test_missing_models_are_named_with_how_to_get_them(tmp_path):
    with pytest.raises(InputError, match=r"ratescore needs Angelakeke/RaTE-NER-Deberta locally: hf download"):
        create_evaluator("ratescore", {"synonym_path": str(tmp_path)})
    with pytest.raises(MissingFileError, match=r"has no config.json; hf download FremyCompany/BioLORD-2023-C"):
        (tmp_path / "ner").mkdir()
        (tmp_path / "ner" / "config.json").write_text("{}")
        create_evaluator("ratescore", {"ner_path": str(tmp_path / "ner"), "synonym_path": str(tmp_path)})
