"""Score a predictions JSONL (id, prediction, reference per line): metrics with bootstrap CIs to JSON.

Example: radzoo evaluate --predictions preds.jsonl --metrics bleu,rouge_l,chexpert --out metrics.json
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


def run(args: argparse.Namespace) -> int:
    # start-up time: radzoo --help imports every command
    from radzoo.evaluation.pipeline import evaluate, read_predictions
    from radzoo.plugins.evaluators.vqa_scores import vqa_reference

    rows = read_predictions(args.predictions)
    if not rows:
        raise InputError(f"{args.predictions}: no predictions to evaluate")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    references = [r["reference"] for r in rows]
    if args.task == "vqa":  # the vqa evaluator reads each answer with its question
        references = [vqa_reference(str(r.get("question") or ""), r["reference"], r.get("kind")) for r in rows]
        metrics = metrics or ["vqa"]
    result = evaluate([r["prediction"] for r in rows], references, metrics=metrics,
                      options=parse_options(args.option), bootstrap=args.bootstrap, seed=args.seed,
                      ids=[r["id"] for r in rows], per_sample=not args.no_per_sample)
    result["predictions"] = str(args.predictions)
    write_json_atomic(Path(args.out), result, indent=2)
    for metric, entry in result["metrics"].items():
        ci = entry["ci"]
        interval = f"  [{ci[0]:.4f}, {ci[1]:.4f}]" if ci and None not in ci else ""
        print(f"{metric:45s} {entry['value'] if entry['value'] is None else format(entry['value'], '.4f')}{interval}")
    print(f"wrote {args.out} ({result['n']} samples)")
    return 0
