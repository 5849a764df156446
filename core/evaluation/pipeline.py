"""Score predictions against references with registered evaluators: value, bootstrap CI, per-sample values."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.components.discovery import create_component
from radzoo.errors import InputError, MissingFileError
from radzoo.evaluation.statistics import bootstrap_ci, paired_bootstrap_test
from radzoo.files.jsonl import decode_line

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


def evaluate(
    predictions: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    bootstrap: int = 500,
    seed: int = 0,
    ids: Sequence[Any] | None = None,
    per_sample: bool = True,
    sample_stats: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every metric of every evaluator in ``metrics`` (default: the offline set) with a percentile 95% CI
    from ``bootstrap`` resamples, ``higher_is_better``, evaluator version and options; ``options`` maps
    evaluator name -> its options (e.g. ``{"chexpert": {"uncertain": "negative"}}``). ``sample_stats``: evaluator
    name -> its per-sample statistics of these predictions, computed already (compare reuses them for its paired
    tests rather than labelling and counting every report twice)."""
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
    samples: dict[str, Any] = {"id": ids}
    for name in names:
        evaluator = create_evaluator(name, options.get(name))
        clash = sorted(set(evaluator.metric_names) & set(result["metrics"]))
        if clash:
            raise InputError(f"evaluator {name!r} reports {', '.join(clash)}, already reported by another "
                             "evaluator in this run; evaluate them separately or rename the metrics")
        if sample_stats is not None and name in sample_stats:
            stats = sample_stats[name]
        else:
            stats = evaluator.sample_stats(list(predictions), list(references))
        values = evaluator.aggregate(stats)
        intervals = bootstrap_ci(evaluator, stats, resamples=bootstrap, seed=seed)
        evaluator_options = evaluator.options() if hasattr(evaluator, "options") else {}
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
        if per_sample:
            samples.update(_per_sample(evaluator, stats, len(predictions)))
    if per_sample:
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
    """Rows of a predictions JSONL (``id``, ``prediction``, ``reference`` per line); a torn last line (a
    crash mid-write) is reported with a warning and skipped, any other bad line is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"predictions file {path} does not exist (write it with `radzoo generate`)")
    lines = [decode_line(raw, path, n) for n, raw in enumerate(path.read_bytes().splitlines(), start=1)]
    while lines and not lines[-1].strip():
        lines.pop()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                warnings.warn(f"{path}:{number}: skipped a torn last line ({exc.msg}); rerun generation to "
                              "finish it", stacklevel=2)
                break
            raise InputError(f"{path}:{number}: not valid JSON at column {exc.colno} ({exc.msg}); fix or delete "
                             "the line") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: expected a JSON object with keys {', '.join(PREDICTION_KEYS)}")
        missing = [k for k in PREDICTION_KEYS if k not in row]
        if missing:
            raise InputError(f"{path}:{number}: missing key(s) {', '.join(missing)}; each line needs "
                             f"{', '.join(PREDICTION_KEYS)}")
        for key in ("prediction", "reference"):
            if not isinstance(row[key], str):
                raise InputError(f"{path}:{number}: {key!r} is {type(row[key]).__name__}, expected a string")
        rows.append(row)
    return rows

