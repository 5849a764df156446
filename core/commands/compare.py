"""Compare recipes on one test split: train (or reuse), generate, evaluate; write leaderboard.md/.csv/.json and plots.

Rerun the same command to resume an interrupted comparison; finished runs with the same resolved recipe are
reused, never retrained.
"""

from __future__ import annotations

import argparse

from radzoo.commands.evaluate import parse_options, suite_metrics
from radzoo.commands.threads_option import add_threads_option, thread_count
from radzoo.errors import InputError

EXAMPLES = """examples:
  radzoo compare demo/llava-rad demo/cxr-llava demo/slava-cxr --out runs/compare
  radzoo compare llava-rad cxr-llava --out runs/mimic --data mimic-cxr:/data/mimic-cxr-jpg trainer.devices=4
  radzoo compare demo/llava-rad --out runs/quick --data synthetic stages.1.max_steps=20 --baselines none
  radzoo compare llava-rad run:runs/llava-rad-published --out runs/vs-published --data mimic-cxr:/data/mimic-cxr-jpg
  radzoo compare demo/slava-cxr-tasks --out runs/tasks --task impression
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = EXAMPLES, argparse.RawDescriptionHelpFormatter
    parser.add_argument("items", nargs="+", metavar="RECIPE|run:DIR|KEY=VALUE",
                        help="recipe paths or bundled names, run directories as run:DIR (scored, never trained), "
                             "then key=value overrides applied to every recipe")
    parser.add_argument("--out", required=True, help="comparison folder (runs, leaderboard, plots); rerun to resume")
    parser.add_argument("--data", default=None, metavar="FORMAT[:PATH]",
                        help="data set for every recipe, e.g. synthetic, csv:reports.csv, mimic-cxr:/data/mimic")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated evaluators (default: the recipe's, else bleu,rouge_l,cider,chexpert)")
    parser.add_argument("--suite", default=None, choices=("rexrank",),
                        help="a named metric set instead of --metrics: rexrank (ReXrank's leaderboard columns)")
    parser.add_argument("--option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                        help="an evaluator option, e.g. chexpert.uncertain=negative (repeatable)")
    parser.add_argument("--headline", default=None,
                        help="metric that ranks the rows (default chexpert_micro_f1_14; --task vqa: "
                             "vqa_closed_accuracy; --suite: its own)")
    parser.add_argument("--task", default="findings", choices=("findings", "impression", "vqa"),
                        help="what each test study is asked; a task other than findings writes OUT/TASK/leaderboard.md")
    parser.add_argument("--baselines", default="constant,nearest-neighbour",
                        help="reference rows: comma-separated constant, nearest-neighbour, or none")
    parser.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples for the CIs")
    parser.add_argument("--batch-size", type=int, default=None, help="generation batch size (default: recipe's)")
    add_threads_option(parser)


def check_data_format(fmt: str, option: str) -> None:
    """A data format typo on the command line is blamed on the option, with the close match."""
    import difflib

    from radzoo.recipe.schema import CHOICES  # start-up time: radzoo --help imports every command

    formats = CHOICES["data.format"]
    if fmt not in formats:
        close = difflib.get_close_matches(fmt, formats, n=1, cutoff=0.5) or [f for f in formats if f.startswith(fmt)]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"command line {option} {fmt!r}: not a data format.{hint} Formats: {', '.join(formats)}")


def data_overrides(spec: str | None) -> list[str]:
    """``FORMAT[:PATH]`` -> recipe overrides that point every recipe at that data set."""
    if spec is None:
        return []
    fmt, sep, path = spec.partition(":")
    if not fmt or (sep and not path):
        raise InputError(f"--data {spec!r}: expected FORMAT or FORMAT:PATH, e.g. synthetic or csv:reports.csv")
    check_data_format(fmt, "--data")
    return [f"data.format={fmt}"] + ([f"data.path={path}"] if path else [])


def split_items(items: list[str]) -> tuple[list[str], list[str]]:
    """(recipes, overrides): an item with '=' (or starting with '~') is an override."""
    overrides = [i for i in items if "=" in i or i.startswith("~")]
    recipes = [i for i in items if i not in overrides]
    if not recipes:
        raise InputError("compare: name at least one recipe before the key=value overrides")
    return recipes, overrides


def run(args: argparse.Namespace) -> int:
    from radzoo.api import compare  # start-up time: radzoo --help imports every command
    from radzoo.comparison.console import print_leaderboard

    recipes, overrides = split_items(args.items)
    baselines = [] if args.baselines.strip() == "none" else [b.strip() for b in args.baselines.split(",") if b.strip()]
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    options, headline, not_computed = (parse_options(args.option) if args.option else None), args.headline, {}
    if args.suite:
        from radzoo.evaluation.suites import headline as suite_headline  # start-up time, as above

        if metrics:
            raise InputError("give --suite or --metrics, not both")
        metrics, options, not_computed = suite_metrics(args.suite, options)
        headline = headline or suite_headline(args.suite, metrics)
    # radzoo.api.compare checks every recipe, override and the data path before torch loads
    result = compare(recipes, args.out, overrides=data_overrides(args.data) + overrides, metrics=metrics,
                     metric_options=options, baselines=baselines,
                     headline=headline or "chexpert_micro_f1_14", bootstrap=args.bootstrap,
                     batch_size=args.batch_size, task=args.task, threads=thread_count(args),
                     not_computed=not_computed)
    print_leaderboard(result.rows, result.headline, result.files)
    return 0
