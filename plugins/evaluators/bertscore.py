"""BERTScore (P/R/F1, mean over samples) through the ``bert-score`` package, from a LOCAL model directory.

Per-sample statistics are each pair's (P, R, F1); the corpus score is their mean, as ``bert_score.score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.errors import InputError, MissingFileError
from radzoo.plugins.evaluators.ngram_metrics import check_pairs

MODEL_FILES = "config.json, the weights (model.safetensors or pytorch_model.bin) and the tokenizer files"


class BertScoreEvaluator:
    """BERTScore P/R/F1 from hidden layer ``num_layers`` of a local BERT-like model."""

    name = "bertscore"
    version = "1"
    metric_names = ("bertscore_precision", "bertscore_recall", "bertscore_f1")
    higher_is_better = {m: True for m in metric_names}

    def __init__(self, model_path: str | None = None, num_layers: int | None = None, batch_size: int = 32,
                 device: str = "cpu") -> None:
        if not model_path:
            raise InputError(
                "bertscore needs a local model: set the option model_path to a directory holding "
                f"{MODEL_FILES} (e.g. save distilroberta-base or microsoft/deberta-xlarge-mnli with "
                "save_pretrained into models/bertscore/) and num_layers (the layer bert-score uses)"
            )
        path = Path(model_path).expanduser()
        if not (path / "config.json").is_file():
            raise MissingFileError(f"bertscore: {path} has no config.json; the directory needs {MODEL_FILES}")
        if num_layers is None:
            raise InputError("bertscore: set the option num_layers, the hidden layer to score with (bert-score's "
                             "model2layers table lists the tuned layer per model, e.g. 17 for roberta-large)")
        self.model_path, self.num_layers = str(path), int(num_layers)
        self.batch_size, self.device = int(batch_size), device
        self._scorer = None

    def options(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "num_layers": self.num_layers, "idf": False,
                "rescale_with_baseline": False}

    def _get_scorer(self):
        if self._scorer is None:
            from bert_score import BERTScorer

            self._scorer = BERTScorer(model_type=self.model_path, num_layers=self.num_layers,
                                      batch_size=self.batch_size, device=self.device)
            tokenizer = self._scorer._tokenizer
            if tokenizer.model_max_length > 100_000:  # tokenizer saved without a limit: use the model's
                tokenizer.model_max_length = self._scorer._model.config.max_position_embeddings
        return self._scorer

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        check_pairs(predictions, references)
        if not predictions:
            return np.zeros((0, 3))
        p, r, f = self._get_scorer().score(list(predictions), list(references))
        return np.stack([p.numpy(), r.numpy(), f.numpy()], axis=1).astype(np.float64)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        return dict(zip(self.metric_names, (float(v) for v in chosen.mean(axis=0))))
