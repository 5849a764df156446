"""ReXrank's model-based columns as CXR-Report-Metric (CXRMetric/run_eval.py) computes them, from local weights:
``bertscore``, ``semb_score`` and ``1/RadCliQ-v1`` (``radgraph_combined`` is radgraph_f1.py's, ``bleu_score``
rexrank_bleu.py's).

- ``bertscore`` (``add_bertscore_col``): runs of spaces collapsed to one, bert-score's BERTScorer on
  distilroberta-base, layer 5 (bert-score's model2layers entry), no idf, rescaled with bert-score's packaged
  baseline ``rescale_baseline/en/distilroberta-base.tsv``; bert-score strips each text's surrounding whitespace.
- ``semb_score`` (``add_semb_col``): cosine of the CheXbert [CLS] embeddings (chexbert.py, as CheXbert's encode.py).
- ``1/RadCliQ-v1``: RadCliQ-v1 per study from the four columns (radcliq.py: the normaliser and linear model stored
  in CXR-Report-Metric's ``radcliq-v1.pkl``), reported as 1 / (mean RadCliQ-v1), as RadEval's ``CompositeMetric``
  (radeval/metrics/RadCliQv1/radcliq.py, ``predict`` returns ``1/scores.mean()``) and the ReXrank column.
Stats of a column computed once are remembered for the same texts and options, so ``1/RadCliQ-v1`` reuses them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.errors import InputError, MissingFileError
from radzoo.plugins.evaluators.ngram_metrics import check_pairs
from radzoo.plugins.evaluators.radcliq_model import BERTSCORE_LAYER, radcliq_v1
from radzoo.plugins.evaluators.radgraph_f1 import RadGraphF1Evaluator
from radzoo.plugins.evaluators.rexrank_bleu import BleuScoreEvaluator
from radzoo.plugins.evaluators.stats_memory import remembered

BERTSCORE_FILES = ("distilroberta-base (hub id distilroberta-base): config.json, model.safetensors or "
                   "pytorch_model.bin, vocab.json, merges.txt; get it with `hf download distilroberta-base "
                   "--local-dir DIR`")
def _mean_column(metric: str, stats: np.ndarray, indices: Sequence[int] | None) -> dict[str, float]:
    chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
    return {metric: float(chosen[:, 0].mean()) if len(chosen) else float("nan")}


def _default_baseline() -> str:
    import bert_score  # optional package: only the metrics that use it need it

    return str(Path(bert_score.__file__).parent / "rescale_baseline" / "en" / "distilroberta-base.tsv")


class RexrankBertScoreEvaluator:
    """ReXrank ``bertscore``: rescaled BERTScore F1 of distilroberta-base from a local directory."""

    name = "rexrank_bertscore"
    version = "1"
    metric_names = ("bertscore",)
    higher_is_better = {"bertscore": True}

    def __init__(self, model_path: str | None = None, num_layers: int = BERTSCORE_LAYER,
                 baseline_path: str | None = None, batch_size: int = 64, device: str = "cpu") -> None:
        if not model_path:
            raise InputError(f"bertscore needs a local model: --option rexrank_bertscore.model_path=DIR holding "
                             f"{BERTSCORE_FILES}")
        path = Path(model_path).expanduser()
        if not (path / "config.json").is_file():
            raise MissingFileError(f"bertscore: {path} has no config.json; it must hold {BERTSCORE_FILES}")
        try:
            self.baseline_path = baseline_path or _default_baseline()
        except ImportError:
            raise InputError("bertscore needs the bert-score package: pip install 'radzoo[rexrank]'") from None
        self.model_path, self.num_layers = str(path), int(num_layers)
        self.batch_size, self.device = int(batch_size), device
        self._scorer = None

    def options(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "num_layers": self.num_layers, "baseline_path": self.baseline_path,
                "rescale_with_baseline": True, "idf": False}

    def _compute(self, predictions: list[str], references: list[str]) -> np.ndarray:
        if not predictions:
            return np.zeros((0, 1))
        if self._scorer is None:
            from bert_score import BERTScorer  # optional package, imported when first scoring

            self._scorer = BERTScorer(model_type=self.model_path, num_layers=self.num_layers, lang="en",
                                      batch_size=self.batch_size, device=self.device, idf=False,
                                      rescale_with_baseline=True, baseline_path=self.baseline_path)
        collapse = [re.sub(r" +", " ", text) for text in predictions], [re.sub(r" +", " ", t) for t in references]
        _, _, f1 = self._scorer.score(*collapse)
        return f1.double().numpy().reshape(-1, 1)

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 1]: each study's rescaled BERTScore F1."""
        return remembered(self, predictions, references, self._compute)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        return _mean_column("bertscore", stats, indices)


class SembScoreEvaluator:
    """ReXrank ``semb_score``: cosine of the CheXbert [CLS] embeddings of prediction and reference."""

    name = "semb_score"
    version = "1"
    metric_names = ("semb_score",)
    higher_is_better = {"semb_score": True}

    def __init__(self, checkpoint_path: str | None = None, bert_path: str | None = None, device: str = "cpu",
                 batch_size: int = 16) -> None:
        # torch and transformers: only once the metric is asked for
        from radzoo.plugins.evaluators.chexbert import CheXbertLabeler

        self.labeler = CheXbertLabeler(checkpoint_path, bert_path, device=device, batch_size=batch_size)

    def options(self) -> dict[str, Any]:
        return {"checkpoint_path": str(self.labeler.checkpoint_path), "bert_path": str(self.labeler.bert_path)}

    def _compute(self, predictions: list[str], references: list[str]) -> np.ndarray:
        pred, ref = self.labeler.embed(predictions), self.labeler.embed(references)
        # CXR-Report-Metric divides unguarded; a zero vector (never seen from BERT) scores 0 here, not NaN
        norms = np.linalg.norm(pred, axis=1) * np.linalg.norm(ref, axis=1)
        return (np.einsum("nd,nd->n", ref, pred) / np.where(norms > 0, norms, np.inf)).reshape(-1, 1)

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 1]: each study's embedding cosine."""
        return remembered(self, predictions, references, self._compute)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        return _mean_column("semb_score", stats, indices)


def radcliq_components(columns: Sequence[Any], predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """[n, 4] RadCliQ components (radgraph_combined, bertscore, semb_score, bleu_score) from the four column
    evaluators in that order (RadGraphF1Evaluator, RexrankBertScoreEvaluator, SembScoreEvaluator,
    BleuScoreEvaluator)."""
    check_pairs(predictions, references)
    radgraph = columns[0].sample_stats(predictions, references)[:, 9:11].mean(axis=1)
    rest = [c.sample_stats(predictions, references)[:, 0] for c in columns[1:]]
    return np.stack([radgraph, *rest], axis=1).reshape(len(predictions), 4)


class InverseRadCliQEvaluator:
    """ReXrank ``1/RadCliQ-v1``: 1 / mean RadCliQ-v1 (higher is better); options are the four columns'."""

    name = "rexrank_radcliq"
    version = "1"
    metric_names = ("1/RadCliQ-v1",)
    higher_is_better = {"1/RadCliQ-v1": True}

    def __init__(self, radgraph: dict[str, Any] | None = None, rexrank_bertscore: dict[str, Any] | None = None,
                 semb_score: dict[str, Any] | None = None) -> None:
        self.columns = (RadGraphF1Evaluator(**(radgraph or {})), RexrankBertScoreEvaluator(**(rexrank_bertscore or {})),
                        SembScoreEvaluator(**(semb_score or {})), BleuScoreEvaluator())

    def options(self) -> dict[str, Any]:
        return {c.name: c.options() for c in self.columns} | {"coefficients": "CXR-Report-Metric radcliq-v1.pkl"}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 1]: each study's RadCliQ-v1 (lower is better) from radgraph_combined, bertscore, semb, bleu."""
        return radcliq_v1(radcliq_components(self.columns, predictions, references)).reshape(-1, 1)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        return {"1/RadCliQ-v1": float(1.0 / chosen[:, 0].mean()) if len(chosen) else float("nan")}
