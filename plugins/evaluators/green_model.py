"""ReXrank's ``green_score``: GREEN (Ostmeier et al. 2024) from a GREEN model served behind any OpenAI-compatible
endpoint (e.g. vLLM serving StanfordAIMI/GREEN-radllama2-7b with its ``<|user|>`` chat template), through the
judge's client, cache and fault handling (judge_runner.py).

- Prompt: GREEN's own ``make_prompt(reference, candidate)`` (each text cut to its first 300 words), read at run
  time from the installed RadEval package's ``radeval/metrics/green_score/utils.py`` without importing RadEval
  (its package import pulls in every metric); radzoo does not carry the prompt text. One user message, greedy.
- Parsing, as RadEval's ``GREEN.compute_green`` / ``parse_error_counts`` (radeval/metrics/green_score/green.py)
  with ``clean_responses`` (utils.py): the text after "[Explanation]:"; a section ``[Name]:`` runs to the first
  blank line; a section starting "No" counts 0; matched findings = the first line-start integer followed by
  "."; each significant error kind (a)-(f) (or (1)-(6)) = the integer after ": " and before "." on its line.
  GREEN = 0 when nothing matched, else matched / (matched + significant errors). A missing section counts 0,
  so every answer yields a score, as in GREEN's code.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radzoo.errors import InputError
from radzoo.plugins.evaluators.judge_runner import JudgeRunner

PROMPT_VERSION = "green-radeval-2.2.1"
KINDS = "abcdef"
INSTALL_PROMPT = "pip install --no-deps radeval==2.2.1 (radzoo reads only GREEN's prompt file from it)"


def load_make_prompt() -> Callable[[str, str], str]:
    """GREEN's ``make_prompt`` from the installed RadEval, loaded from its file alone."""
    try:
        spec = importlib.util.find_spec("radeval")
    except (ImportError, ValueError):  # an import hook hiding it, or a half-installed package
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"green needs GREEN's prompt: {INSTALL_PROMPT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "metrics" / "green_score" / "utils.py"
    if not path.is_file():
        raise InputError(f"green: {path} not found (another RadEval layout); {INSTALL_PROMPT}")
    module_spec = importlib.util.spec_from_file_location("radzoo_green_prompt", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.make_prompt


def clean_answer(answer: str) -> str:
    """GREEN's ``clean_responses``: keep what follows "[Explanation]:", drop stray special tokens."""
    if "[Explanation]:" in answer:
        placeholder = "[Explanation]:\n    <Explanation>\n" in answer
        answer = answer.split("[Explanation]:")[1 if placeholder else -1]
    if "<|assistant|>" in answer:
        answer = answer.split("<|assistant|>")[-1]
    return answer.replace("</s>", "").replace("<unk>", "")


def _section(text: str, name: str) -> str | None:
    found = re.search(rf"\[{name}\]:\s*(.*?)(?:\n\s*\n|\Z)", text, re.DOTALL)
    return None if found is None else found.group(1)


def parse_green(answer: str) -> list[int]:
    """[matched findings, significant errors (a)..(f)] as GREEN's code reads them."""
    text = clean_answer(answer or "")
    counts = [0] * len(KINDS)
    body = _section(text, "Clinically Significant Errors")
    if body is not None and not body.startswith("No"):
        lines = sorted(re.findall(r"\([a-f]\) .*", body))
        markers = [f"({k}) " for k in KINDS]
        if not lines:
            lines, markers = sorted(re.findall(r"\([1-6]\) .*", body)), [f"({i}) " for i in range(1, 7)]
        for index, marker in enumerate(markers):
            for line in lines:
                number = re.search(r"(?<=: )\b\d+\b(?=\.)", line) if line.startswith(marker) else None
                if number:
                    counts[index] = int(number.group(0))
    matched, body = 0, _section(text, "Matched Findings")
    if body is not None and not body.startswith("No"):
        numbers = re.findall(r"^\b\d+\b(?=\.)", body, re.MULTILINE)
        matched = int(numbers[0]) if numbers else 0
    return [matched, *counts]


def green_of(row: np.ndarray) -> float:
    """GREEN of one parsed row [matched, significant a..f]."""
    matched, errors = row[0], row[1:7].sum()
    return 0.0 if matched == 0 else float(matched / (matched + errors))


class GreenEvaluator:
    """GREEN score per study and its mean; options as ``chexprompt`` (model, base_url, cache_dir, ...)."""

    name = "green"
    version = "1"
    metric_names = ("green_score",)
    higher_is_better = {"green_score": True}

    def __init__(self, **options: Any) -> None:
        self.make_prompt = load_make_prompt()
        self.runner = JudgeRunner(evaluator="green", **options)

    def options(self) -> dict[str, Any]:
        return {**self.runner.client.describe(), "prompt_version": PROMPT_VERSION}

    def _messages(self, reference: str, candidate: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.make_prompt(reference, candidate)}]

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 8]: matched findings, significant errors (a)..(f), 1.0 where no answer came back."""
        return self.runner.run(predictions, references, PROMPT_VERSION, self._messages, parse_green, 7)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        answered = chosen[chosen[:, 7] == 0.0]
        scores = [green_of(row) for row in answered]
        return {"green_score": float(np.mean(scores)) if scores else float("nan")}
