"""RadCliQ-v1 (Yu et al. 2023, rajpurkarlab/CXR-Report-Metric): a fixed linear model over four per-report
metrics, lower is better (it estimates the number of errors a radiologist would count).

Components, per (prediction, reference) pair, in the published column order:
1. ``radgraph_combined``: (entity F1 + relation F1) / 2 from RadGraph annotations (radgraph_f1.py);
2. ``bertscore``: BERTScore F1 of distilroberta-base, layer 5, rescaled with bert-score's packaged baseline,
   no idf, runs of spaces collapsed (CXR-Report-Metric ``add_bertscore_col``; the ``rexrank_bertscore`` column);
3. ``semb_score``: cosine similarity of CheXbert [CLS] embeddings (chexbert.py);
4. ``bleu_score``: sentence BLEU-2 as fast-bleu computes it on CXR-Report-Metric's ``prep_reports`` tokens
   (rexrank_bleu.py; a zero bigram precision is smoothed to 0.1 / bigrams, as fast-bleu does).
RadCliQ-v1 = standardise the four with the published mean/scale, then the published coefficients + intercept
(radcliq_model.py). The corpus value is the mean per-report score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from radzoo.errors import InputError
from radzoo.plugins.evaluators.radcliq_model import BERTSCORE_LAYER, COMPONENTS, radcliq_v1
from radzoo.plugins.evaluators.radgraph_f1 import RadGraphF1Evaluator
from radzoo.plugins.evaluators.rexrank_bleu import BleuScoreEvaluator
from radzoo.plugins.evaluators.rexrank_columns import RexrankBertScoreEvaluator, SembScoreEvaluator, radcliq_components


class RadCliQEvaluator:
    """RadCliQ-v1 (lower is better) and its four components (higher is better): the ReXrank column evaluators
    (rexrank_columns.py, rexrank_bleu.py, radgraph_f1.py), so both report the same component values."""

    name = "radcliq"
    version = "2"  # 2: bertscore as ReXrank's column (runs of spaces collapsed)
    metric_names = ("radcliq_v1", *(f"radcliq_{c}" for c in COMPONENTS))
    higher_is_better = {m: m != "radcliq_v1" for m in metric_names}

    def __init__(self, checkpoint_path: str | None = None, bert_path: str | None = None,
                 bertscore_model_path: str | None = None, annotations_path: str | None = None,
                 bertscore_num_layers: int = BERTSCORE_LAYER, bertscore_baseline_path: str | None = None,
                 device: str = "cpu", batch_size: int = 16) -> None:
        needed = {"checkpoint_path": (checkpoint_path, "CheXbert weights chexbert.pth (semb_score)"),
                  "bert_path": (bert_path, "bert-base-uncased tokenizer directory for CheXbert"),
                  "bertscore_model_path": (bertscore_model_path, "local distilroberta-base directory (BERTScore)"),
                  "annotations_path": (annotations_path, "RadGraph annotations JSON (radgraph_combined)")}
        missing = [f"{key} ({what})" for key, (value, what) in needed.items() if not value]
        if missing:
            raise InputError("radcliq needs all four components offline; missing option(s): " + "; ".join(missing))
        self.columns = (RadGraphF1Evaluator(annotations_path=annotations_path),
                        RexrankBertScoreEvaluator(model_path=bertscore_model_path, num_layers=bertscore_num_layers,
                                                  baseline_path=bertscore_baseline_path, batch_size=batch_size,
                                                  device=device),
                        SembScoreEvaluator(checkpoint_path, bert_path, device=device, batch_size=batch_size),
                        BleuScoreEvaluator())

    def options(self) -> dict[str, Any]:
        return {c.name: c.options() for c in self.columns} | {"coefficients": "CXR-Report-Metric radcliq-v1.pkl"}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 4] components in COMPONENTS order."""
        return radcliq_components(self.columns, predictions, references)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        if len(chosen) == 0:
            return {m: float("nan") for m in self.metric_names}
        values = [radcliq_v1(chosen).mean(), *chosen.mean(axis=0)]
        return dict(zip(self.metric_names, (float(v) for v in values)))
