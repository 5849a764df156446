"""ReXrank's ``ratescore``: RaTEScore (Zhao et al. 2024) computed by the ``ratescore`` package (PyPI 0.6.0,
``RaTEScore.compute_score``) from two LOCAL model folders; radzoo adds no inference of its own.

The package takes hub ids or folders for its two models; radzoo passes folders only, so nothing is fetched:
- ``ner_path``: Angelakeke/RaTE-NER-Deberta (config.json with the entity labels, model weights, tokenizer files);
- ``synonym_path``: FremyCompany/BioLORD-2023-C (config.json, model weights, tokenizer files).
The package imports medspacy (spaCy) at import time; it is not in radzoo's extras because its wheel declares no
dependencies: ``pip install ratescore==0.6.0 medspacy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.errors import InputError, MissingFileError
from radzoo.plugins.evaluators.ngram_metrics import check_pairs

MODELS = {"ner_path": "Angelakeke/RaTE-NER-Deberta", "synonym_path": "FremyCompany/BioLORD-2023-C"}
INSTALL = "pip install ratescore==0.6.0 medspacy"


def _how_to_get(option: str) -> str:
    return (f"hf download {MODELS[option]} --local-dir DIR (config.json, weights, tokenizer files) and pass "
            f"--option ratescore.{option}=DIR")


class RaTEScoreEvaluator:
    """Mean per-study RaTEScore from the package, on local NER and synonym models."""

    name = "ratescore"
    version = "1"
    metric_names = ("ratescore",)
    higher_is_better = {"ratescore": True}

    def __init__(self, ner_path: str | None = None, synonym_path: str | None = None, batch_size: int = 8,
                 device: str = "cpu", affinity_matrix: str = "long") -> None:
        paths = {"ner_path": ner_path, "synonym_path": synonym_path}
        for option, value in paths.items():
            if not value:
                raise InputError(f"ratescore needs {MODELS[option]} locally: {_how_to_get(option)}")
            if not (Path(value).expanduser() / "config.json").is_file():
                raise MissingFileError(f"ratescore: {value} has no config.json; {_how_to_get(option)}")
        try:
            from RaTEScore import RaTEScore  # optional package; imports medspacy
        except ImportError as exc:
            raise InputError(f"ratescore needs the ratescore package and medspacy ({exc}): {INSTALL}") from None
        self.paths = {k: str(Path(v).expanduser()) for k, v in paths.items()}
        self.affinity_matrix = affinity_matrix
        self._scorer = RaTEScore(bert_model=self.paths["ner_path"], eval_model=self.paths["synonym_path"],
                                 batch_size=int(batch_size), use_gpu=device != "cpu", affinity_matrix=affinity_matrix)

    def options(self) -> dict[str, Any]:
        return {**self.paths, "affinity_matrix": self.affinity_matrix}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 1]: each study's RaTEScore (0.5 where either report has no entity, as the package)."""
        check_pairs(predictions, references)
        if not predictions:
            return np.zeros((0, 1))
        return np.asarray(self._scorer.compute_score(list(predictions), list(references)), dtype=np.float64
                          ).reshape(-1, 1)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        return {"ratescore": float(chosen[:, 0].mean()) if len(chosen) else float("nan")}
