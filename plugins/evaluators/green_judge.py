"""A GREEN-style score (Ostmeier et al. 2024) from the same LLM judge as CheXprompt.

GREEN = matched findings / (matched findings + clinically significant errors) per report, 0 when nothing
matched, averaged over reports. GREEN proper uses its own fine-tuned judge model; this variant asks any
OpenAI-compatible judge with radzoo's CheXprompt prompt plus one line, ``Number of matched findings: n``
(prompt version ``GREEN_PROMPT_VERSION``, its own cache keys). Unparseable answers are counted in
``green_unparsed``, as in chexprompt.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from radzoo.plugins.evaluators.chexprompt_prompt import (
    MATCHED_LINE,
    PROMPT_VERSION,
    SYSTEM_INSTRUCTION,
    parse_answer,
    user_message,
)
from radzoo.plugins.evaluators.judge_runner import JudgeRunner

GREEN_PROMPT_VERSION = f"{PROMPT_VERSION}+green-1"
EXAMPLE_MATCHED = (2, 2, 1)  # matched findings of the three worked examples
_MATCHED = re.compile(rf"{re.escape(MATCHED_LINE)}\s*(\d+)")


def green_messages(reference: str, candidate: str) -> list[dict[str, str]]:
    """Chat messages: the CheXprompt prompt asking for matched findings too."""
    return [{"role": "system", "content": SYSTEM_INSTRUCTION},
            {"role": "user", "content": user_message(reference, candidate, matched=EXAMPLE_MATCHED)}]


def parse_green(answer: str) -> list[int] | None:
    """[matched, significant A..F] from an answer, or None when a line is missing or malformed."""
    parsed, matched = parse_answer(answer), _MATCHED.search(answer or "")
    return None if parsed is None or matched is None else [int(matched.group(1)), *parsed["significant"]]


class GreenJudgeEvaluator:
    """GREEN-style score, matched findings and significant errors per report; options as ``chexprompt``."""

    name = "green_judge"
    version = "1"
    metric_names = ("green_score", "green_matched_findings", "green_significant_errors", "green_unparsed")
    higher_is_better = {"green_score": True, "green_matched_findings": True, "green_significant_errors": False,
                        "green_unparsed": False}

    def __init__(self, **options: Any) -> None:
        self.runner = JudgeRunner(evaluator="green_judge", **options)

    def options(self) -> dict[str, Any]:
        return {**self.runner.client.describe(), "prompt_version": GREEN_PROMPT_VERSION,
                "parse_retries": self.runner.parse_retries}

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 8]: matched findings, significant A..F, unparsed (1.0)."""
        return self.runner.run(predictions, references, GREEN_PROMPT_VERSION, green_messages, parse_green, 7)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        parsed, unparsed = chosen[chosen[:, 7] == 0.0, :7], float(chosen[:, 7].sum())
        if len(parsed) == 0:
            return {"green_score": float("nan"), "green_matched_findings": float("nan"),
                    "green_significant_errors": float("nan"), "green_unparsed": unparsed}
        matched, errors = parsed[:, 0], parsed[:, 1:].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(matched > 0, matched / (matched + errors), 0.0)
        return {"green_score": float(score.mean()), "green_matched_findings": float(matched.mean()),
                "green_significant_errors": float(errors.mean()), "green_unparsed": unparsed}
