"""CheXprompt: an LLM judge counts six kinds of errors in each candidate report against its reference.

One judge call per (reference, candidate) pair through judge_runner.py (concurrent, cached on disk, bounded
retries). An unparseable answer is excluded from the means and counted in ``chexprompt_unparsed``.
Per-sample statistics: [significant A..F, insignificant A..F, unparsed flag] (counts NaN when unparsed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from radzoo.plugins.evaluators.chexprompt_prompt import KINDS, PROMPT_VERSION, judge_messages, parse_answer
from radzoo.plugins.evaluators.judge_runner import JudgeRunner

SUMMARY = ("chexprompt_significant_errors", "chexprompt_insignificant_errors", "chexprompt_zero_significant_share")
PER_TYPE = tuple(f"chexprompt_{severity}_{kind}" for severity in ("significant", "insignificant") for kind in KINDS)
UNPARSED = "chexprompt_unparsed"


def parse_counts(answer: str) -> list[int] | None:
    """The 12 counts (significant A..F, insignificant A..F) of an answer, or None."""
    parsed = parse_answer(answer)
    return None if parsed is None else [*parsed["significant"], *parsed["insignificant"]]


class CheXpromptEvaluator:
    """Mean significant / insignificant errors per report, share with zero significant errors, per-type means.

    Options: ``model`` (required), ``base_url`` (else $OPENAI_BASE_URL), ``api_key_env`` (default OPENAI_API_KEY),
    ``api_version`` (Azure), ``cache_dir`` (default $RADZOO_CACHE/judge), ``concurrency``, ``parse_retries``,
    ``timeout``, ``connect_timeout``, ``max_retries``, ``backoff``, ``max_backoff``, ``max_total_s``,
    ``max_tokens``."""

    name = "chexprompt"
    version = "1"
    metric_names = (*SUMMARY, *PER_TYPE, UNPARSED)
    higher_is_better = {m: m == "chexprompt_zero_significant_share" for m in metric_names}

    def __init__(self, **options: Any) -> None:
        self.runner = JudgeRunner(evaluator="chexprompt", **options)
        self.client = self.runner.client

    @property
    def requests(self) -> int:
        return self.runner.requests

    @property
    def unparsed_answers(self) -> list[dict[str, Any]]:
        return self.runner.unparsed_answers

    def options(self) -> dict[str, Any]:
        return {**self.client.describe(), "prompt_version": PROMPT_VERSION, "parse_retries": self.runner.parse_retries}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 13]: significant A..F, insignificant A..F, unparsed (1.0) — one judge call per uncached pair."""
        return self.runner.run(predictions, references, PROMPT_VERSION, judge_messages, parse_counts, 12)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        parsed = chosen[chosen[:, 12] == 0.0, :12]
        unparsed = float(chosen[:, 12].sum())
        if len(parsed) == 0:
            return {**{m: float("nan") for m in self.metric_names}, UNPARSED: unparsed}
        significant, insignificant = parsed[:, :6].sum(axis=1), parsed[:, 6:].sum(axis=1)
        values = [significant.mean(), insignificant.mean(), (significant == 0).mean(), *parsed.mean(axis=0)]
        return {**dict(zip(self.metric_names, (float(v) for v in values))), UNPARSED: unparsed}
