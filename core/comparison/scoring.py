"""Scoring a comparison: every system through the same evaluators, CIs, and paired tests vs the best row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radzoo.comparison.leaderboard import LeaderboardRow, MetricCell, best_rows
from radzoo.errors import InputError
from radzoo.evaluation.pipeline import create_evaluator, score
from radzoo.evaluation.statistics import paired_bootstrap_test


@dataclass
class SystemOutput:
    """One system's predictions on the shared test split, plus what the leaderboard says about it."""

    name: str
    kind: str  # learned | baseline
    predictions: dict[str, str]  # study id -> generated report
    description: str = ""
    encoder_trained_on: str = ""
    efficiency: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None  # where its predictions (and, once scored, metrics.json) live
    weights_from: str = ""  # the leaderboard's "weights from": trained here, reused, imported, exported


def score_systems(systems: Sequence[SystemOutput], ids: Sequence[str], references: Sequence[str],
                  metrics: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None,
                  bootstrap: int = 500, seed: int = 0, paired_resamples: int = 1000,
                  ) -> tuple[list[LeaderboardRow], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Leaderboard rows (value, CI, p vs best per metric), each system's evaluation result, and each system's
    per-sample data (``Evaluation.per_sample``: what the viewer reads); every evaluator runs once per system."""
    options = dict(options or {})
    for system in systems:
        missing = [i for i in ids if i not in system.predictions]
        if missing:
            raise InputError(f"system {system.name!r} has no prediction for {len(missing)} test studies "
                             f"(first: {missing[0]}); rerun the comparison to finish its generation")
    rows = [LeaderboardRow(s.name, s.kind, s.description, s.encoder_trained_on, efficiency=dict(s.efficiency),
                           weights_from=s.weights_from) for s in systems]
    results: dict[str, dict[str, Any]] = {s.name: {} for s in systems}
    samples: dict[str, dict[str, Any]] = {s.name: {"id": list(ids), "metrics": {}, "labels": {}, "findings": {}}
                                          for s in systems}
    # per evaluator, each system's per-sample statistics once: for its values, CIs and per-sample data and for the
    # paired tests; one evaluator's statistics at a time in memory
    for name in metrics:
        evaluator = create_evaluator(name, options.get(name))
        stats = {s.name: evaluator.sample_stats([s.predictions[i] for i in ids], list(references)) for s in systems}
        for system, row in zip(systems, rows, strict=True):
            part = score([system.predictions[i] for i in ids], list(references), metrics=[name],
                         options={name: options[name]} if name in options else None, bootstrap=bootstrap, seed=seed,
                         ids=list(ids), sample_stats={name: stats[system.name]}, evaluators={name: evaluator})
            _merge(results[system.name], part.result)
            for key, value in part.per_sample().items():
                if key != "id":
                    samples[system.name][key].update(value)
            for metric, m in part.result["metrics"].items():
                ci = m["ci"] or [None, None]
                row.metrics[metric] = MetricCell(float("nan") if m["value"] is None else m["value"], ci[0], ci[1],
                                                 m["higher_is_better"])
        _paired_tests(rows, evaluator, stats, paired_resamples, seed)
    return rows, results, samples


def _merge(merged: dict[str, Any], part: dict[str, Any]) -> None:
    """One evaluator's result into the system's: the shared fields, then its evaluator entry and metrics."""
    merged.update({k: v for k, v in part.items() if k not in ("evaluators", "metrics")})
    merged.setdefault("evaluators", {}).update(part["evaluators"])
    merged.setdefault("metrics", {}).update(part["metrics"])


def _paired_tests(rows: list[LeaderboardRow], evaluator: Any, stats: Mapping[str, Any], resamples: int,
                  seed: int) -> None:
    """Each row's p-value against the best row on each of ``evaluator``'s metrics, from their statistics."""
    tests: dict[tuple[str, str], dict[str, Any]] = {}  # one paired test per pair covers all its metrics
    for metric in evaluator.metric_names:
        best = best_rows(rows, metric)
        if best is None:
            continue
        for row in rows:
            if row.name == best or metric not in row.metrics:
                continue
            pair = (best, row.name)
            if pair not in tests:
                tests[pair] = paired_bootstrap_test(evaluator, stats[best], stats[row.name], resamples=resamples,
                                                    seed=seed)
            row.metrics[metric].p_vs_best = tests[pair][metric]["p_value"]
