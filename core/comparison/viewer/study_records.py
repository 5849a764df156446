"""Per study: the labels of the reference and of every system's report, and per-study metric values, all read
from the per-sample data ``evaluate`` wrote beside each row's metrics.json (nothing is labelled or scored here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# one character per label keeps 300 studies x 6 reports x 14 labels small in the page
LABEL_CODES = {1.0: "1", 0.0: "0", -1.0: "u", None: "."}
# metrics that mean something on one study (CIDEr's weights come from the whole corpus)
PER_STUDY_METRICS = ("chexpert_micro_f1_14", "chexpert_micro_f1_5", "bleu_4", "rouge_l")


def label_codes(rows: Sequence[Sequence[float | None]]) -> list[str]:
    """Each report's labels as one string: 1 positive, 0 negative, u uncertain, . not mentioned."""
    return ["".join(LABEL_CODES[v] for v in row) for row in rows]


def _by_id(values: Sequence[Any], sample_ids: Sequence[Any], ids: Sequence[str]) -> list[Any]:
    """``values`` (in the per-sample file's order) in the order of ``ids``."""
    position = {str(i): k for k, i in enumerate(sample_ids)}
    return [values[position[i]] for i in ids]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def study_records(ids: Sequence[str], references: Sequence[str], systems: Mapping[str, Sequence[str]],
                  samples: Mapping[str, Mapping[str, Any]], metrics: Sequence[str],
                  labeler: str | None) -> dict[str, Any]:
    """The study browser's data: ids, reference texts and labels, and per system its texts, labels and per-study
    metrics; ``samples`` is each system's per-sample data, ``labeler`` the evaluator whose labels are shown."""
    shown = [m for m in PER_STUDY_METRICS if m in metrics]
    first = next(iter(samples.values()))
    reference_labels = (label_codes(_by_id(first["labels"][labeler]["references"], first["id"], ids))
                        if labeler else [""] * len(ids))
    out: dict[str, Any] = {"ids": list(ids), "reference": {"texts": list(references), "labels": reference_labels},
                           "systems": {}}
    for name, reports in systems.items():
        sample = samples[name]
        labels = (label_codes(_by_id(sample["labels"][labeler]["predictions"], sample["id"], ids))
                  if labeler else [""] * len(ids))
        out["systems"][name] = {
            "texts": list(reports), "labels": labels,
            "metrics": {m: [_round(v) for v in _by_id(sample["metrics"][m], sample["id"], ids)] for m in shown}}
    return out
