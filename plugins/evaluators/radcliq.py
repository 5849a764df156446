"""RadCliQ-v1 (Yu et al. 2023, rajpurkarlab/CXR-Report-Metric): a fixed linear model over four per-report
metrics, lower is better (it estimates the number of errors a radiologist would count).

Components, per (prediction, reference) pair, in the published column order:
1. ``radgraph_combined``: (entity F1 + relation F1) / 2 from RadGraph annotations (radgraph_f1.py);
2. ``bertscore``: BERTScore F1 of distilroberta-base, layer 5, rescaled with bert-score's packaged baseline,
   no idf, leading whitespace stripped (CXR-Report-Metric ``add_bertscore_col``);
3. ``semb_score``: cosine similarity of CheXbert [CLS] embeddings (chexbert.py);
4. ``bleu_score``: sentence BLEU-2 (weights 1/2, 1/2), tokens from lower-casing, " ." for ".", splitting on
   spaces (CXR-Report-Metric ``prep_reports``), no smoothing (fast_bleu's epsilon smoothing differs from this
   by less than 1e-9 where a precision is zero).
RadCliQ-v1 = standardise the four with the published mean/scale, then the published coefficients + intercept
(the values stored in CXR-Report-Metric's ``radcliq-v1.pkl``). The corpus value is the mean per-report score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.errors import InputError, MissingFileError
from radzoo.plugins.evaluators.ngram_metrics import bleu_counts, check_pairs
from radzoo.plugins.evaluators.radgraph_f1 import RadGraphF1Evaluator

COMPONENTS = ("radgraph_combined", "bertscore", "semb_score", "bleu_score")
MEAN = np.array([0.53792312, 0.61757256, 0.76479421, 0.44738335])
SCALE = np.array([0.30282584, 0.22430938, 0.25394391, 0.29892717])
COEFFICIENTS = np.array([-3.77083683e-01, -3.70300100e-01, -2.52616218e-01, 4.31504841e-12])
INTERCEPT = 2.46655256e-10
BERTSCORE_LAYER = 5  # bert-score's default layer for distilroberta-base


def radcliq_v1(components: np.ndarray) -> np.ndarray:
    """[n] RadCliQ-v1 scores from [n, 4] components in COMPONENTS order."""
    return ((np.asarray(components, dtype=np.float64) - MEAN) / SCALE) @ COEFFICIENTS + INTERCEPT


def bleu2(prediction: str, reference: str) -> float:
    """Sentence BLEU-2 with CXR-Report-Metric's tokenisation, single reference, no smoothing."""
    def tokens(text: str) -> str:
        return " ".join(t for t in text.lower().replace(".", " .").split(" ") if t != "")

    length, ref_length, *rest = bleu_counts(tokens(prediction), tokens(reference), n=2)
    guess, correct = rest[:2], rest[2:]
    if length == 0 or min(correct) == 0:
        return 0.0
    brevity = 1.0 if length > ref_length else math.exp(1 - ref_length / length)
    return brevity * math.exp(sum(0.5 * math.log(c / g) for c, g in zip(correct, guess)))


def _default_baseline() -> str:
    import bert_score

    return str(Path(bert_score.__file__).parent / "rescale_baseline" / "en" / "distilroberta-base.tsv")


class RadCliQEvaluator:
    """RadCliQ-v1 (lower is better) and its four components (higher is better)."""

    name = "radcliq"
    version = "1"
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
        # torch: after the options are checked, so errors show at once
        from radzoo.plugins.evaluators.chexbert import CheXbertLabeler

        model_dir = Path(bertscore_model_path).expanduser()
        if not (model_dir / "config.json").is_file():
            raise MissingFileError(f"radcliq: bertscore_model_path {model_dir} has no config.json; save "
                                    "distilroberta-base there with save_pretrained (model and tokenizer)")
        self.radgraph = RadGraphF1Evaluator(annotations_path=annotations_path)
        self.chexbert = CheXbertLabeler(checkpoint_path, bert_path, device=device, batch_size=batch_size)
        self.bertscore_model_path, self.bertscore_num_layers = str(model_dir), int(bertscore_num_layers)
        self.bertscore_baseline_path = bertscore_baseline_path or _default_baseline()
        self.device, self.batch_size = device, int(batch_size)

    def options(self) -> dict[str, Any]:
        return {"bertscore_model_path": self.bertscore_model_path, "bertscore_num_layers": self.bertscore_num_layers,
                "bertscore_baseline_path": self.bertscore_baseline_path, "rescale_with_baseline": True,
                "idf": False, "chexbert": str(self.chexbert.checkpoint_path),
                "annotations_path": self.radgraph.annotations_path, "coefficients": "radcliq-v1.pkl"}

    def _bertscore(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        from bert_score import BERTScorer

        scorer = BERTScorer(model_type=self.bertscore_model_path, num_layers=self.bertscore_num_layers,
                            batch_size=self.batch_size, device=self.device, lang="en",
                            rescale_with_baseline=True, baseline_path=self.bertscore_baseline_path)
        _, _, f1 = scorer.score([p.lstrip() for p in predictions], [r.lstrip() for r in references])
        return f1.double().numpy()

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 4] components in COMPONENTS order."""
        check_pairs(predictions, references)
        if not predictions:
            return np.zeros((0, 4))
        radgraph = self.radgraph.sample_stats(predictions, references)[:, 9:11].mean(axis=1)
        pred_emb, ref_emb = self.chexbert.embed(predictions), self.chexbert.embed(references)
        norms = np.linalg.norm(pred_emb, axis=1) * np.linalg.norm(ref_emb, axis=1)
        semb = np.einsum("nd,nd->n", pred_emb, ref_emb) / np.where(norms > 0, norms, 1.0)
        bleu = np.array([bleu2(p, r) for p, r in zip(predictions, references)])
        return np.stack([radgraph, self._bertscore(predictions, references), semb, bleu], axis=1)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        if len(chosen) == 0:
            return {m: float("nan") for m in self.metric_names}
        values = [radcliq_v1(chosen).mean(), *chosen.mean(axis=0)]
        return dict(zip(self.metric_names, (float(v) for v in values)))
