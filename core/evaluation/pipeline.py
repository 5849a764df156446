"""Score predictions against references with registered evaluators: value, bootstrap CI, per-sample values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.components.discovery import create_component
from radzoo.errors import InputError, MissingFileError
from radzoo.evaluation.statistics import bootstrap_ci, paired_bootstrap_test
from radzoo.files.jsonl import read_records

# Runs offline with no weights: the recipe default for `evaluation.metrics`.
DEFAULT_METRICS = ("bleu", "rouge_l", "cider", "chexpert")
PREDICTION_KEYS = ("id", "prediction", "reference")


def create_evaluator(name: str, options: Mapping[str, Any] | None = None) -> Any:
    """Build the registered evaluator ``name`` with its options (unknown names list the known ones)."""
    return create_component("evaluator", name, options)


def _per_sample(evaluator: Any, stats: Any, n: int) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {m: [] for m in evaluator.metric_names}
    for i in range(n):
        for metric, value in evaluator.aggregate(stats, [i]).items():
            values[metric].append(_plain(value))
    return values


def _plain(value: float) -> float | None:
    """JSON-safe float (NaN becomes None)."""
    value = float(value)
    return None if np.isnan(value) else value


@dataclass
class Evaluation:
    """An evaluation's result (JSON-ready, as ``evaluate`` returns it) and what it was computed from: each
    evaluator and its per-sample statistics, so paired tests and the viewer read them instead of recomputing."""

    result: dict[str, Any]
    evaluators: dict[str, Any]
    stats: dict[str, Any]
    predictions: list[str]
    references: list[str]
    ids: list[Any]

    def per_sample(self) -> dict[str, Any]:
        """Per sample: every metric's value, and from evaluators that give them (optional protocol members) each
        report's labels and the per-label (tp, fp, fn) counts under the evaluator's options."""
        out: dict[str, Any] = {"id": self.ids, "metrics": {}, "labels": {}, "findings": {}}
        for name, evaluator in self.evaluators.items():
            out["metrics"].update(_per_sample(evaluator, self.stats[name], len(self.ids)))
            if hasattr(evaluator, "sample_labels") and hasattr(evaluator, "label_names"):
                out["labels"][name] = {"names": list(evaluator.label_names),
                                       "predictions": evaluator.sample_labels(self.predictions),
                                       "references": evaluator.sample_labels(self.references)}
            if hasattr(evaluator, "finding_counts") and hasattr(evaluator, "label_names"):
                counts = np.asarray(evaluator.finding_counts(self.stats[name]))
                out["findings"][name] = {"names": list(evaluator.label_names), "options": _options(evaluator),
                                         "counts": counts.astype(np.int64).tolist()}
        return out


def _options(evaluator: Any) -> dict[str, Any]:
    return evaluator.options() if hasattr(evaluator, "options") else {}


def score(
    predictions: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    bootstrap: int = 500,
    seed: int = 0,
    ids: Sequence[Any] | None = None,
    sample_stats: Mapping[str, Any] | None = None,
    evaluators: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Every metric of every evaluator in ``metrics`` (default: the offline set) with a percentile 95% CI
    from ``bootstrap`` resamples, ``higher_is_better``, evaluator version and options; ``options`` maps
    evaluator name -> its options (e.g. ``{"chexpert": {"uncertain": "negative"}}``). Each evaluator runs once:
    ``sample_stats`` (evaluator name -> its per-sample statistics of these predictions) and ``evaluators`` (name
    -> the evaluator) may be given already computed (compare labels and counts every report once)."""
    if len(predictions) != len(references):
        raise InputError(f"got {len(predictions)} predictions but {len(references)} references")
    names = list(metrics or DEFAULT_METRICS)
    options = dict(options or {})
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise InputError(f"options given for {', '.join(unknown)}, which is not among the metrics {names}")
    ids = list(ids) if ids is not None else list(range(len(predictions)))
    result: dict[str, Any] = {"n": len(predictions), "bootstrap": {"resamples": bootstrap, "seed": seed,
                              "confidence": 0.95, "method": "percentile"}, "evaluators": {}, "metrics": {}}
    evaluation = Evaluation(result, {}, {}, list(predictions), list(references), ids)
    for name in names:
        evaluator = evaluators[name] if evaluators is not None and name in evaluators else create_evaluator(
            name, options.get(name))
        clash = sorted(set(evaluator.metric_names) & set(result["metrics"]))
        if clash:
            raise InputError(f"evaluator {name!r} reports {', '.join(clash)}, already reported by another "
                             "evaluator in this run; evaluate them separately or rename the metrics")
        if sample_stats is not None and name in sample_stats:
            stats = sample_stats[name]
        else:
            stats = evaluator.sample_stats(list(predictions), list(references))
        evaluation.evaluators[name], evaluation.stats[name] = evaluator, stats
        values = evaluator.aggregate(stats)
        intervals = bootstrap_ci(evaluator, stats, resamples=bootstrap, seed=seed)
        evaluator_options = _options(evaluator)
        result["evaluators"][name] = {"version": evaluator.version, "options": evaluator_options,
                                      "metrics": list(evaluator.metric_names)}
        for metric, value in values.items():
            low_high = intervals.get(metric)
            result["metrics"][metric] = {
                "value": _plain(value),
                "ci": [_plain(low_high[0]), _plain(low_high[1])] if low_high else None,
                "higher_is_better": bool(evaluator.higher_is_better[metric]),
                "evaluator": name,
                "version": evaluator.version,
                "options": evaluator_options,
            }
    return evaluation


def evaluate(
    predictions: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    bootstrap: int = 500,
    seed: int = 0,
    ids: Sequence[Any] | None = None,
    per_sample: bool = True,
) -> dict[str, Any]:
    """``score``'s result; with ``per_sample``, plus ``per_sample``: the ids and every metric's value per sample."""
    evaluation = score(predictions, references, metrics, options, bootstrap, seed, ids)
    result = evaluation.result
    if per_sample:
        samples: dict[str, Any] = {"id": evaluation.ids}
        for name, evaluator in evaluation.evaluators.items():
            samples.update(_per_sample(evaluator, evaluation.stats[name], len(evaluation.ids)))
        result["per_sample"] = samples
    return result


def paired_test(
    predictions_a: Sequence[str],
    predictions_b: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """System B vs system A on the same references: per metric ``delta`` (B - A), ``p_value`` (paired
    bootstrap), ``a`` and ``b``; each evaluator labels or scores every system once."""
    if not len(predictions_a) == len(predictions_b) == len(references):
        raise InputError(f"a paired test needs one prediction per reference from each system: got "
                         f"{len(predictions_a)}, {len(predictions_b)} and {len(references)} references")
    result: dict[str, dict[str, float]] = {}
    for name in metrics or DEFAULT_METRICS:
        evaluator = create_evaluator(name, (options or {}).get(name))
        stats_a = evaluator.sample_stats(list(predictions_a), list(references))
        stats_b = evaluator.sample_stats(list(predictions_b), list(references))
        result.update(paired_bootstrap_test(evaluator, stats_a, stats_b, resamples=resamples, seed=seed))
    return result


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a predictions JSONL (``id``, ``prediction``, ``reference`` per line), read by the one JSONL reader
    (a torn last line is skipped with a warning); a prediction or reference that is not text is an error."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"predictions file {path} does not exist (write it with `radzoo generate`)")
    rows = read_records(path, required=PREDICTION_KEYS)
    for number, row in enumerate(rows, start=1):
        for key in ("prediction", "reference"):
            if not isinstance(row[key], str):
                raise InputError(f"{path}: record {number} (id {row['id']!r}): {key!r} is "
                                 f"{type(row[key]).__name__}, expected a string")
    return rows
