"""Named metric suites (``--suite``): a fixed list of evaluators, each computed when its weights and packages are
there and otherwise named, with the reason and how to get what it needs, while the others are still written.

``rexrank``: the columns of the ReXrank leaderboard under their names (bleu_score, bertscore, semb_score,
radgraph_combined, 1/RadCliQ-v1, ratescore, green_score); ``1/RadCliQ-v1`` takes the options of the columns it
is built from (radgraph, rexrank_bertscore, semb_score) unless given its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from radzoo.errors import InputError, RadzooError
from radzoo.evaluation.pipeline import create_evaluator

SUITES: dict[str, tuple[str, ...]] = {
    "rexrank": ("bleu_score", "rexrank_bertscore", "semb_score", "radgraph", "rexrank_radcliq", "ratescore", "green"),
}
COLUMNS = {"bleu_score": "bleu_score", "rexrank_bertscore": "bertscore", "semb_score": "semb_score",
           "radgraph": "radgraph_combined", "rexrank_radcliq": "1/RadCliQ-v1", "ratescore": "ratescore",
           "green": "green_score"}  # the ReXrank column each evaluator writes (for the "not computed" lines)
COMPOSED_OF = {"rexrank_radcliq": ("radgraph", "rexrank_bertscore", "semb_score")}
# the column that ranks a suite's leaderboard: the first of these (evaluator, column) that was computed
HEADLINES = {"rexrank": (("rexrank_radcliq", "1/RadCliQ-v1"), ("radgraph", "radgraph_combined"),
                         ("rexrank_bertscore", "bertscore"), ("bleu_score", "bleu_score"))}


def suite_options(suite: str, options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Each evaluator's options; a composed evaluator gets its parts' options unless it has its own."""
    if suite not in SUITES:
        raise InputError(f"--suite {suite!r}: unknown suite; known: {', '.join(SUITES)}")
    options = {name: dict(value) for name, value in (options or {}).items()}
    unknown = sorted(set(options) - set(SUITES[suite]))
    if unknown:
        raise InputError(f"--option for {', '.join(unknown)}, which is not in suite {suite!r} "
                         f"({', '.join(SUITES[suite])})")
    for name, parts in COMPOSED_OF.items():
        if name in SUITES[suite] and name not in options:
            options[name] = {part: options[part] for part in parts if part in options}
    return options


def available(suite: str, options: Mapping[str, Mapping[str, Any]] | None = None
              ) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, str]]:
    """(evaluators that can run, their options, {evaluator that cannot: the one-line reason and fix})."""
    options = suite_options(suite, options)
    runnable, not_computed = [], {}
    for name in SUITES[suite]:
        parts_missing = [part for part in COMPOSED_OF.get(name, ()) if part in not_computed]
        if parts_missing:
            not_computed[name] = f"built from {', '.join(COMPOSED_OF[name])}; {', '.join(parts_missing)} not computed"
            continue
        try:
            create_evaluator(name, options.get(name))
        except RadzooError as exc:
            not_computed[name] = " ".join(str(exc).split())
        else:
            runnable.append(name)
    return runnable, {n: options[n] for n in runnable if n in options}, not_computed


def headline(suite: str, evaluators: list[str]) -> str | None:
    """The suite's ranking column among those its runnable ``evaluators`` compute."""
    return next((column for name, column in HEADLINES.get(suite, ()) if name in evaluators), None)
