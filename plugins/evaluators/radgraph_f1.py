"""RadGraph F1 (Jain et al. 2021; reward levels of Delbrouck et al. 2022) from RadGraph annotations.

The F1 is computed here, exactly as the ``radgraph`` package's ``F1RadGraph`` rewards (per report pair, then
averaged over reports); per report the candidate sets are:
- simple:   every entity as (tokens, label);
- partial:  (tokens, label) for an entity without relations, (tokens, label, True) for one with (headline);
- complete: (tokens, label) without relations, else one (tokens.lower(), label, relation, target tokens.lower())
  per relation.
A report pair where either text is empty, or either annotation has no entity, scores (0, 0, 0). For RadCliQ
the per-pair ``radgraph_combined`` = mean of entity F1 over (tokens, label) and relation F1 over
((tokens, label), (target tokens, label), relation), as rajpurkarlab/CXR-Report-Metric.

Annotations come from the RadGraph model run from local files by the ``radgraph`` package (option
``model_path``; radgraph_model.py), or from ``annotations_path``, a JSON file written elsewhere, e.g.
``json.dump(radgraph.RadGraph()(reports), f)`` (keys "0".."n-1", each with "text" and "entities"), or an
object mapping report text -> annotation. Any object with ``annotate(reports) -> annotations`` also works.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.errors import InputError, MissingFileError
from radzoo.plugins.evaluators.ngram_metrics import check_pairs
from radzoo.plugins.evaluators.radgraph_model import RadGraphModel, how_to_get
from radzoo.plugins.evaluators.stats_memory import remembered

LEVELS = ("simple", "partial", "complete")
HOW_TO_ANNOTATE = ("write it where the RadGraph model is available: from radgraph import RadGraph; "
                   "json.dump(RadGraph()(predictions + references), open(path, 'w'))")


def _prf(hypothesis: set, reference: set) -> tuple[float, float, float]:
    precision = sum(1 for x in hypothesis if x in reference) / len(hypothesis) if hypothesis else 0.0
    recall = sum(1 for x in reference if x in hypothesis) / len(reference) if reference else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return f1, precision, recall


def _candidates(annotation: Mapping[str, Any], level: str) -> set:
    entities = annotation["entities"]
    out: set = set()
    for entity in entities.values():
        plain = (entity["tokens"], entity["label"])
        if level == "simple" or not entity["relations"]:
            out.add(plain)
        elif level == "partial":
            out.add((*plain, True))
        else:
            out.update((entity["tokens"].lower(), entity["label"], relation,
                        entities[target]["tokens"].lower()) for relation, target in entity["relations"])
    return out


def _relations(annotation: Mapping[str, Any]) -> set:
    entities = annotation["entities"]
    return {((e["tokens"], e["label"]), (entities[t]["tokens"], entities[t]["label"]), relation)
            for e in entities.values() for relation, t in e.get("relations", []) if t in entities}


def pair_scores(hypothesis: Mapping[str, Any], reference: Mapping[str, Any]) -> list[float]:
    """[simple f1, p, r, partial f1, p, r, complete f1, p, r, entity f1, relation f1] for one report pair."""
    if not hypothesis["entities"] or not reference["entities"]:
        rewards = [0.0] * 9
    else:
        rewards = [v for level in LEVELS for v in _prf(_candidates(hypothesis, level), _candidates(reference, level))]
    entity_f1 = _prf(_candidates(hypothesis, "simple"), _candidates(reference, "simple"))[0]
    relation_f1 = _prf(_relations(hypothesis), _relations(reference))[0]
    return [*rewards, entity_f1, relation_f1]


class AnnotationFile:
    """RadGraph annotations read from JSON, looked up by report text."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise MissingFileError(f"radgraph: annotations file {self.path} not found; {HOW_TO_ANNOTATE}")
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise InputError(f"radgraph: {self.path} must hold a JSON object (radgraph output or text -> annotation)")
        values = list(data.values())
        if values and all(isinstance(v, dict) and "text" in v and "entities" in v for v in values):
            data = {v["text"]: v for v in values}  # the radgraph package's output, keyed "0".."n-1"
        for text, annotation in data.items():
            if not isinstance(annotation, dict) or not isinstance(annotation.get("entities"), dict):
                raise InputError(f"radgraph: {self.path}: the annotation of {text[:60]!r} has no 'entities' object")
        self.by_text = data

    def annotate(self, reports: Sequence[str]) -> list[dict[str, Any]]:
        """The annotation of each report; a report without one is an error naming it."""
        missing = [r for r in reports if r.strip() and r not in self.by_text]
        if missing:
            raise InputError(f"radgraph: {len(missing)} report(s) have no annotation in {self.path}, e.g. "
                             f"{missing[0][:80]!r}; annotate exactly these texts ({HOW_TO_ANNOTATE})")
        return [self.by_text.get(r, {"entities": {}}) for r in reports]


class RadGraphF1Evaluator:
    """RadGraph F1 simple / partial (headline) / complete, plus the RadCliQ entity+relation combination."""

    name = "radgraph"
    version = "1"
    metric_names = ("radgraph_f1_partial", "radgraph_f1_simple", "radgraph_f1_complete",
                    "radgraph_precision_partial", "radgraph_recall_partial", "radgraph_combined")
    higher_is_better = {m: True for m in metric_names}
    _COLUMNS = (3, 0, 6, 4, 5)  # stats columns of the first five metrics

    def __init__(self, annotations_path: str | None = None, model_path: str | None = None,
                 model_type: str = "radgraph", bert_path: str | None = None, device: str = "cpu",
                 annotator: Any = None) -> None:
        if annotator is None and model_path:
            annotator = RadGraphModel(model_path, model_type=model_type, bert_path=bert_path, device=device)
        elif annotator is None:
            if not annotations_path:
                raise InputError("radgraph needs the RadGraph model or its annotations: "
                                 f"{how_to_get(model_type)}; or set annotations_path to a JSON file of RadGraph "
                                 f"annotations of every prediction and reference ({HOW_TO_ANNOTATE})")
            annotator = AnnotationFile(annotations_path)
        self.annotator, self.annotations_path = annotator, annotations_path

    def options(self) -> dict[str, Any]:
        model = self.annotator.describe() if isinstance(self.annotator, RadGraphModel) else {}
        return {"annotations_path": self.annotations_path, **model,
                "reward": "radgraph F1RadGraph (simple/partial/complete)"}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 11]: (f1, precision, recall) per level, entity F1, relation F1."""
        if isinstance(self.annotator, RadGraphModel):  # a model run: reused by 1/RadCliQ-v1 in the same suite
            return remembered(self, predictions, references, self._compute)
        check_pairs(predictions, references)
        return self._compute(list(predictions), list(references))

    def _compute(self, predictions: list[str], references: list[str]) -> np.ndarray:
        hypotheses, gold = self.annotator.annotate(predictions), self.annotator.annotate(references)
        rows = [[0.0] * 11 if not (p.strip() and r.strip()) else pair_scores(h, g)
                for p, r, h, g in zip(predictions, references, hypotheses, gold)]
        return np.array(rows, dtype=np.float64).reshape(len(rows), 11)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        means = chosen.mean(axis=0) if len(chosen) else np.full(11, np.nan)
        values = [means[c] for c in self._COLUMNS] + [(means[9] + means[10]) / 2]
        return dict(zip(self.metric_names, (float(v) for v in values)))
