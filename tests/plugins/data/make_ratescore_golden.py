"""Builds ratescore_golden.json: per-pair RaTEScore from the ``ratescore`` package (0.6.0) itself, on the tiny random
models of tests/plugins/tiny_ratescore.py (built in this script) and texts radzoo makes (synthetic reports and edge
cases). It also runs radzoo's ``ratescore`` evaluator on the same folders and asserts equality.

The package imports medspacy (spaCy 3.7, numpy < 2) at import time, which radzoo's venv (numpy 2) cannot hold, so
this runs in a throwaway venv outside the project, e.g. one with ratescore==0.6.0, medspacy 1.3.1, spacy 3.7.5,
numpy 1.26.4 and pandas 2.2.3, plus radzoo's venv on its path:
    HF_HUB_OFFLINE=1 /work/upstream/c25-rate/bin/python tests/plugins/data/make_ratescore_golden.py
Also run there: /work/upstream/c25-rate/bin/python -m pytest -p no:xdist -q tests/plugins/test_ratescore.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tiny_ratescore and report_pairs live beside the tests
from report_pairs import EDGE, synthetic_pairs  # noqa: E402
from tiny_ratescore import save_tiny_ratescore  # noqa: E402

SEED, PAIRS = 0, 20


def pairs() -> tuple[list[str], list[str]]:
    """(candidates, references): synthetic pairs (seed 7), then each edge case against the first reference."""
    candidates, references = synthetic_pairs(PAIRS, seed=7)
    return candidates + EDGE, references + [references[0]] * len(EDGE)


def main() -> None:
    import medspacy
    import spacy
    from RaTEScore import RaTEScore

    from radzoo.evaluation.pipeline import create_evaluator

    candidates, references = pairs()
    with tempfile.TemporaryDirectory() as root:
        ner, synonym = save_tiny_ratescore(Path(root), seed=SEED)
        scores = RaTEScore(bert_model=str(ner), eval_model=str(synonym), batch_size=8, use_gpu=False
                           ).compute_score(candidates, references)
        ours = create_evaluator("ratescore", {"ner_path": str(ner), "synonym_path": str(synonym)}).sample_stats(
            candidates, references)[:, 0]
    assert np.abs(ours - np.array(scores)).max() < 1e-9, "radzoo's column differs from the package"
    out = HERE / "ratescore_golden.json"
    out.write_text(json.dumps({"ratescore": "0.6.0", "medspacy": medspacy.__version__, "spacy": spacy.__version__,
                               "seed": SEED, "pairs": "make_ratescore_golden.pairs()",
                               "ratescore_per_pair": [float(s) for s in scores]}, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(scores)} pairs, {len(set(np.round(scores, 9)))} distinct scores, mean "
          f"{np.mean(scores):.4f}")


if __name__ == "__main__":
    main()
