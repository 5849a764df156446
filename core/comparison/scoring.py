"""Scoring a comparison: every system through the same evaluators, CIs, and paired tests vs the best row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radzoo.comparison.leaderboard import LeaderboardRow, MetricCell, best_rows
from radzoo.errors import InputError
from radzoo.evaluation.pipeline import create_evaluator, evaluate
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
                  ) -> tuple[list[LeaderboardRow], dict[str, Any]]:
    """Leaderboard rows (value, CI, p vs best per metric) and the full per-system evaluation results."""
    options = dict(options or {})
    for system in systems:
        missing = [i for i in ids if i not in system.predictions]
        if missing:
            raise InputError(f"system {system.name!r} has no prediction for {len(missing)} test studies "
                             f"(first: {missing[0]}); rerun the comparison to finish its generation")
    rows = [LeaderboardRow(s.name, s.kind, s.description, s.encoder_trained_on, efficiency=dict(s.efficiency),
                           weights_from=s.weights_from) for s in systems]
    results: dict[str, dict[str, Any]] = {s.name: {} for s in systems}
    # per evaluator, each system's per-sample statistics once: for its values and CIs and for the paired tests
    # (labelling and n-gram counting are most of the cost at 30,000 studies); one evaluator's at a time in memory
    for name in metrics:
        evaluator = create_evaluator(name, options.get(name))
        stats = {s.name: evaluator.sample_stats([s.predictions[i] for i in ids], list(references)) for s in systems}
        for system, row in zip(systems, rows, strict=True):
            part = evaluate([system.predictions[i] for i in ids], list(references), metrics=[name],
                            options={name: options[name]} if name in options else None, bootstrap=bootstrap,
                            seed=seed, ids=list(ids), per_sample=False, sample_stats={name: stats[system.name]})
            merged = results[system.name]
            merged.update({k: v for k, v in part.items() if k not in ("evaluators", "metrics")})
            merged.setdefault("evaluators", {}).update(part["evaluators"])
            merged.setdefault("metrics", {}).update(part["metrics"])
            for metric, m in part["metrics"].items():
                ci = m["ci"] or [None, None]
                row.metrics[metric] = MetricCell(float("nan") if m["value"] is None else m["value"], ci[0], ci[1],
                                                 m["higher_is_better"])
        # paired tests: per-sample statistics of the best row against every other row
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
                    tests[pair] = paired_bootstrap_test(evaluator, stats[best], stats[row.name],
                                                        resamples=paired_resamples, seed=seed)
                row.metrics[metric].p_vs_best = tests[pair][metric]["p_value"]
    return rows, results
