"""Temporal metrics: does a report state the changes since the prior study as the reference does?

``temporal_f1`` is RadEval's temporal entity F1 (its anchor): per study, the set of temporal keywords
(BioViL-T's list: new, increased, unchanged, resolved, ...) in the prediction against the set in the reference,
F1 with RadEval's epsilon; both empty scores 1, a reference without keywords against a prediction with some
scores 0; the mean over studies. RadEval also runs Stanza's radiology NER and keeps entities that are keywords
themselves; radzoo matches the keywords as whole words only (no Stanza model offline), which finds the same words.

``temporal_change_f1`` is radzoo's per-finding agreement: each sentence's findings (pleural effusion,
pneumothorax, cardiomegaly, edema, consolidation, nodule, atelectasis, support devices) paired with the change it
states (new, worse, better, unchanged, resolved); micro F1 of the prediction's (finding, change) pairs against the
reference's, over the studies whose reference states a change (a report without change language has no prior to
compare with, or says nothing about it). ``temporal_studies`` counts those studies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from radzoo.plugins.evaluators.ngram_metrics import check_pairs

EPSILON = 1e-10  # RadEval's
# BioViL-T's temporal keywords, as RadEval lists them (Bannur et al., CVPR 2023)
KEYWORDS = frozenset((
    "bigger", "change", "cleared", "constant", "decrease", "decreased", "decreasing", "elevated", "elevation",
    "enlarged", "enlargement", "enlarging", "expanded", "greater", "growing", "improved", "improvement",
    "improving", "increase", "increased", "increasing", "larger", "new", "persistence", "persistent",
    "persisting", "progression", "progressive", "reduced", "removal", "resolution", "resolved", "resolving",
    "smaller", "stability", "stable", "stably", "unchanged", "unfolded", "worse", "worsen", "worsened",
    "worsening", "unaltered"))
KEYWORD = re.compile(r"\b(" + "|".join(sorted(map(re.escape, KEYWORDS))) + r")\b")
# a change class per word; "no change" is matched before the single words
CHANGES = {
    "new": ("new", "newly"),
    "worse": ("worse", "worsen", "worsened", "worsening", "increase", "increased", "increasing", "larger", "bigger",
              "enlarging", "growing", "progression", "progressive", "greater", "expanded"),
    "better": ("improved", "improvement", "improving", "decrease", "decreased", "decreasing", "smaller", "reduced",
               "resolving"),
    "unchanged": ("no change", "not changed", "unchanged", "stable", "stably", "stability", "constant",
                  "persistent", "persisting", "persistence", "unaltered"),
    "resolved": ("resolved", "resolution", "cleared", "removal", "removed"),
}
CHANGE = re.compile(r"\b(" + "|".join(w for words in CHANGES.values() for w in words) + r")\b")
CHANGE_OF = {w: change for change, words in CHANGES.items() for w in words}
FINDINGS = {
    "pleural effusion": r"effusions?|pleural fluid",
    "pneumothorax": r"pneumothora(?:x|ces)",
    "cardiomegaly": r"cardiomegaly|heart size|cardiac silhouette|enlarged heart",
    "edema": r"edema|oedema|congestion",
    "consolidation": r"consolidations?|opacit(?:y|ies)|pneumonia|airspace disease",
    "nodule": r"nodules?|mass(?:es)?|lesions?",
    "atelectasis": r"atelectasis|atelectatic",
    "support devices": r"tubes?|lines?|catheters?|devices?|pacemaker",
}
FINDING = {name: re.compile(rf"\b(?:{pattern})\b") for name, pattern in FINDINGS.items()}
SENTENCE = re.compile(r"(?<=[.;!?])\s+|\n+")


def clean(text: str) -> str:
    """Lower case, underscores and dashes as spaces, whitespace collapsed (RadEval cleans before matching)."""
    return " ".join(re.sub(r"[_-]+", " ", text.lower()).split())


def keyword_set(text: str) -> set[str]:
    return set(KEYWORD.findall(clean(text)))


def keyword_f1(prediction: str, reference: str) -> float:
    """RadEval's per-study temporal entity F1."""
    pred, ref = keyword_set(prediction), keyword_set(reference)
    if not ref:
        return 1.0 if not pred else EPSILON
    tp = len(pred & ref)
    precision, recall = (tp + EPSILON) / (len(pred) + EPSILON), (tp + EPSILON) / (len(ref) + EPSILON)
    return 2 * precision * recall / (precision + recall + EPSILON)


def change_pairs(text: str) -> set[tuple[str, str]]:
    """(finding, change) for each sentence naming both; a sentence's first change word gives its change."""
    pairs = set()
    for sentence in SENTENCE.split(clean(text)):
        change = CHANGE.search(sentence)
        if change is None:
            continue
        for name, pattern in FINDING.items():
            if pattern.search(sentence):
                pairs.add((name, CHANGE_OF[change.group(1)]))
    return pairs


class TemporalEvaluator:
    """RadEval's temporal F1 and radzoo's per-finding change F1."""

    name = "temporal"
    version = "1"
    metric_names = ("temporal_f1", "temporal_change_f1", "temporal_studies")
    higher_is_better = {"temporal_f1": True, "temporal_change_f1": True, "temporal_studies": True}

    def options(self) -> dict[str, str]:
        return {"keywords": "BioViL-T (RadEval)", "ner": "none (whole-word keywords)"}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 5]: keyword F1, then tp, fp, fn of (finding, change) pairs and whether the study counts."""
        check_pairs(predictions, references)
        rows = []
        for prediction, reference in zip(predictions, references, strict=True):
            pred, ref = change_pairs(prediction), change_pairs(reference)
            counted = bool(CHANGE.search(clean(reference)))
            rows.append([keyword_f1(prediction, reference), len(pred & ref) * counted, len(pred - ref) * counted,
                         len(ref - pred) * counted, float(counted)])
        return np.asarray(rows, dtype=np.float64).reshape(-1, 5)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        tp, fp, fn, counted = chosen[:, 1:].sum(axis=0)
        denominator = 2 * tp + fp + fn
        return {"temporal_f1": float(chosen[:, 0].mean()) if len(chosen) else 0.0,
                "temporal_change_f1": float(2 * tp / denominator) if denominator else 0.0,
                "temporal_studies": float(counted)}
