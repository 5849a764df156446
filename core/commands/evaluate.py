"""Score a predictions JSONL (id, prediction, reference per line): metrics with bootstrap CIs to JSON.

Example: radzoo evaluate --predictions preds.jsonl --metrics bleu,rouge_l,chexpert --out metrics.json
``--suite rexrank`` scores ReXrank's columns; a column whose weights or package are missing is named, with how
to get them, and the others are still written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from radzoo.errors import InputError
from radzoo.files.atomic import write_json_atomic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, help="JSONL with id, prediction, reference per line")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated evaluators (default: bleu,rouge_l,cider,chexpert) (--task vqa: vqa)")
    parser.add_argument("--suite", default=None, choices=("rexrank",),
                        help="a named metric set instead of --metrics: rexrank (ReXrank's leaderboard columns)")
    parser.add_argument("--task", default="findings", choices=("findings", "impression", "vqa"),
                        help="the task the predictions answer (vqa: rows carry their question, scored by vqa)")
    parser.add_argument("--option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                        help="an evaluator option, e.g. chexpert.uncertain=negative (repeatable)")
    parser.add_argument("--bootstrap", type=int, default=500, help="bootstrap resamples for the CIs (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--no-per-sample", action="store_true", help="leave per-sample values out")
    parser.add_argument("--out", required=True, help="metrics JSON to write (atomically)")


def parse_options(items: list[str]) -> dict[str, dict[str, object]]:
    """``metric.key=value`` strings -> {metric: {key: value}}; values are parsed as YAML scalars."""
    import yaml

    options: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        metric, dot, option = key.partition(".")
        if not sep or not dot or not metric or not option:
            raise InputError(f"--option {item!r}: expected METRIC.KEY=VALUE, e.g. chexpert.uncertain=negative")
        options.setdefault(metric, {})[option] = yaml.safe_load(value)
    return options


def suite_metrics(suite: str, options: dict) -> tuple[list[str], dict, dict[str, str]]:
    """The suite's runnable evaluators and their options; one printed line per evaluator it cannot run."""
    from radzoo.evaluation.suites import COLUMNS, available  # start-up time: radzoo --help imports every command

    metrics, options, not_computed = available(suite, options)
    for name, reason in not_computed.items():
        print(f"not computed: {COLUMNS.get(name, name)} (evaluator {name}): {reason}")
    if not metrics:
        raise InputError(f"--suite {suite}: no metric of the suite could be computed (see the lines above)")
    return metrics, options, not_computed


def run(args: argparse.Namespace) -> int:
    from radzoo.api import evaluate  # start-up time: radzoo --help imports every command

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    options, not_computed = parse_options(args.option), {}
    if args.suite:
        if metrics:
            raise InputError("give --suite or --metrics, not both")
        metrics, options, not_computed = suite_metrics(args.suite, options)
    result = evaluate(args.predictions, metrics=metrics, options=options, bootstrap=args.bootstrap, seed=args.seed,
                      per_sample=not args.no_per_sample, task=args.task)
    result["predictions"] = str(args.predictions)
    if args.suite:
        result["suite"], result["not_computed"] = args.suite, not_computed
    write_json_atomic(Path(args.out), result, indent=2)
    for metric, entry in result["metrics"].items():
        ci = entry["ci"]
        interval = f"  [{ci[0]:.4f}, {ci[1]:.4f}]" if ci and None not in ci else ""
        print(f"{metric:45s} {entry['value'] if entry['value'] is None else format(entry['value'], '.4f')}{interval}")
    print(f"wrote {args.out} ({result['n']} samples)")
    return 0
