"""Per study: the CheXpert labels of the reference and of every system's report, and per-study metric values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from radzoo.evaluation.pipeline import create_evaluator
from radzoo.plugins.evaluators.chexpert_f1 import FIVE
from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS, label_reports

# one character per observation keeps 300 studies x 6 reports x 14 labels small in the page
LABEL_CODES = {1.0: "1", 0.0: "0", -1.0: "u", None: "."}
# sentence-level metrics that mean something on one study (CIDEr's weights come from the whole corpus)
PER_STUDY_EVALUATORS = {"bleu": ("bleu_4",), "rouge_l": ("rouge_l",)}
FIVE_MASK = [obs in FIVE for obs in OBSERVATIONS]


def label_codes(reports: Sequence[str]) -> list[str]:
    """Each report's 14 labels as a 14-character string: 1 positive, 0 negative, u uncertain, . not mentioned."""
    return ["".join(LABEL_CODES[v] for v in row) for row in label_reports(reports)]


def _micro_f1(pred: str, ref: str, mask: Sequence[bool]) -> float | None:
    """Micro F1 of one study's labels (uncertain counted positive); None when neither names a finding."""
    tp = fp = fn = 0
    for p, r, keep in zip(pred, ref, mask):
        if not keep:
            continue
        p_pos, r_pos = p in "1u", r in "1u"
        tp, fp, fn = tp + (p_pos and r_pos), fp + (p_pos and not r_pos), fn + (r_pos and not p_pos)
    return None if tp + fp + fn == 0 else round(2 * tp / (2 * tp + fp + fn), 3)


def per_study_metrics(predictions: Sequence[str], references: Sequence[str], pred_codes: Sequence[str],
                      ref_codes: Sequence[str], metrics: Sequence[str],
                      options: Mapping[str, Mapping[str, Any]]) -> dict[str, list[float | None]]:
    """metric -> one value per study, for the leaderboard metrics that are meaningful on a single study."""
    values: dict[str, list[float | None]] = {}
    if "chexpert_micro_f1_14" in metrics:
        values["chexpert_micro_f1_14"] = [_micro_f1(p, r, [True] * 14) for p, r in zip(pred_codes, ref_codes)]
    if "chexpert_micro_f1_5" in metrics:
        values["chexpert_micro_f1_5"] = [_micro_f1(p, r, FIVE_MASK) for p, r in zip(pred_codes, ref_codes)]
    for evaluator_name, names in PER_STUDY_EVALUATORS.items():
        wanted = [m for m in names if m in metrics]
        if not wanted:
            continue
        evaluator = create_evaluator(evaluator_name, options.get(evaluator_name))
        stats = evaluator.sample_stats(list(predictions), list(references))
        for metric in wanted:
            values[metric] = [round(float(evaluator.aggregate(stats, [i])[metric]), 3)
                              for i in range(len(predictions))]
    return values


def study_records(ids: Sequence[str], references: Sequence[str], systems: Mapping[str, Sequence[str]],
                  metrics: Sequence[str], options: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The study browser's data: ids, reference texts and labels, and per system its texts, labels, metrics."""
    ref_codes = label_codes(references)
    out: dict[str, Any] = {"ids": list(ids), "reference": {"texts": list(references), "labels": ref_codes},
                           "systems": {}}
    for name, reports in systems.items():
        codes = label_codes(reports)
        out["systems"][name] = {"texts": list(reports), "labels": codes,
                                "metrics": per_study_metrics(reports, references, codes, ref_codes, metrics, options)}
    return out
