"""Question answering: closed-question accuracy, per-finding F1 from yes/no answers, open-question F1.

A reference is the question, its answer and its kind as JSON, ``{"question": ..., "answer": ..., "kind": ...}``
(``vqa_reference``; a plain string is taken as the answer to an unknown question). A closed question (kind
``closed``, or without a kind a reference answer of yes / no / uncertain): ``vqa_closed_accuracy`` compares
the prediction's first word (yes / no / uncertain; "possibly" counts as uncertain). Where the question is a
radzoo template ("Is there a pleural effusion?"), the answers also count towards that finding's F1 with yes
as the positive class (``vqa_f1_<finding>``; ``vqa_closed_macro_f1`` averages the findings asked about).
Any other question is open: both answers go through radzoo's rule labeler and ``vqa_open_micro_f1`` is the
micro F1 over the 14 observations (uncertain counts as positive).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from radzoo.data.vqa_questions import PHRASES, closed_answer, question_finding
from radzoo.plugins.evaluators.chexpert_f1 import binarize
from radzoo.plugins.evaluators.chexpert_labeler import label_reports
from radzoo.plugins.evaluators.ngram_metrics import check_pairs

FINDINGS = tuple(PHRASES)
# per-sample columns: closed, correct, finding index (-1 none), predicted yes, reference yes, open, then
# open-question tp / fp / fn summed over the 14 observations
CLOSED, CORRECT, FINDING, PRED_YES, REF_YES, OPEN, TP, FP, FN = range(9)


def vqa_reference(question: str, answer: str, kind: str | None = None) -> str:
    """The reference string the vqa evaluator reads: question, answer and kind (closed / open) together."""
    return json.dumps({"question": question, "answer": answer, "kind": kind or ""}, ensure_ascii=False)


def _split(reference: str) -> tuple[str, str, str]:
    """(question, answer, kind) of a reference; the kind from the answer when not given."""
    try:
        data = json.loads(reference)
    except ValueError:
        data = None
    question, answer, kind = ("", reference, "")
    if isinstance(data, dict) and "answer" in data:
        question, answer, kind = str(data.get("question") or ""), str(data["answer"]), str(data.get("kind") or "")
    if kind not in ("closed", "open"):
        kind = "closed" if closed_answer(answer) is not None and len(answer.split()) <= 3 else "open"
    return question, answer, kind


def _slug(finding: str) -> str:
    return finding.lower().replace(" ", "_")


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


class VqaEvaluator:
    """Closed accuracy, per-finding F1 (yes = positive) and open-question F1 through the labeler."""

    name = "vqa"
    version = "1"

    def __init__(self) -> None:
        self.metric_names = ("vqa_closed_accuracy", "vqa_closed_macro_f1", "vqa_open_micro_f1",
                             *(f"vqa_f1_{_slug(f)}" for f in FINDINGS))
        self.higher_is_better = {m: True for m in self.metric_names}

    def options(self) -> dict[str, str]:
        return {"labeler": "radzoo-rules-1", "positive": "yes"}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 9] per question (columns named at the top of this module)."""
        check_pairs(predictions, references)
        stats = np.zeros((len(predictions), 9), dtype=np.float64)
        stats[:, FINDING] = -1
        open_rows: list[int] = []
        for i, (prediction, reference) in enumerate(zip(predictions, references)):
            question, answer, kind = _split(reference)
            gold = closed_answer(answer)
            if kind == "open" or gold is None:
                open_rows.append(i)
                continue
            said = closed_answer(prediction)
            finding = question_finding(question)
            stats[i, [CLOSED, CORRECT, PRED_YES, REF_YES]] = [1, said == gold, said == "yes", gold == "yes"]
            stats[i, FINDING] = FINDINGS.index(finding) if finding in FINDINGS else -1
        if open_rows:
            pred = binarize(label_reports([predictions[i] for i in open_rows]), "positive")
            gold = binarize(label_reports([_split(references[i])[1] for i in open_rows]), "positive")
            stats[open_rows, OPEN] = 1
            stats[open_rows, TP] = (pred & gold).sum(1)
            stats[open_rows, FP] = (pred & ~gold).sum(1)
            stats[open_rows, FN] = (~pred & gold).sum(1)
        return stats

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        rows = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        closed = rows[rows[:, CLOSED] == 1]
        accuracy = float(closed[:, CORRECT].mean()) if len(closed) else float("nan")
        per_finding = []
        for k in range(len(FINDINGS)):
            asked = closed[closed[:, FINDING] == k]
            pred, ref = asked[:, PRED_YES] == 1, asked[:, REF_YES] == 1
            per_finding.append(_f1(float((pred & ref).sum()), float((pred & ~ref).sum()), float((~pred & ref).sum())))
        known = [v for v in per_finding if v == v]
        opened = rows[rows[:, OPEN] == 1]
        open_f1 = _f1(*(float(opened[:, c].sum()) for c in (TP, FP, FN))) if len(opened) else float("nan")
        values = [accuracy, float(np.mean(known)) if known else float("nan"), open_f1, *per_finding]
        return dict(zip(self.metric_names, values))
