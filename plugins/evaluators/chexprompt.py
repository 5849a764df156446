"""CheXprompt: an LLM judge counts six kinds of errors in each candidate report against its reference.

One judge call per (reference, candidate) pair, run concurrently (``concurrency`` threads); every parsed
answer is cached on disk (judge_cache.py) as soon as it arrives, so a rerun or a crashed run never pays
twice. An answer that does not parse is asked again ``parse_retries`` times, then recorded as unparsed: it
is excluded from the means and counted in ``chexprompt_unparsed`` (never silently dropped).

Per-sample statistics: [significant A..F, insignificant A..F, unparsed flag] (counts NaN when unparsed).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from radzoo.plugins.evaluators.chexprompt_prompt import KINDS, PROMPT_VERSION, judge_messages, parse_answer
from radzoo.plugins.evaluators.judge_cache import DEFAULT_CACHE_DIR, JudgeCache, judge_key
from radzoo.plugins.evaluators.ngram_metrics import check_pairs

SUMMARY = ("chexprompt_significant_errors", "chexprompt_insignificant_errors", "chexprompt_zero_significant_share")
PER_TYPE = tuple(f"chexprompt_{severity}_{kind}" for severity in ("significant", "insignificant") for kind in KINDS)
UNPARSED = "chexprompt_unparsed"


class CheXpromptEvaluator:
    """Mean significant / insignificant errors per report, share with zero significant errors, per-type means."""

    name = "chexprompt"
    version = "1"
    metric_names = (*SUMMARY, *PER_TYPE, UNPARSED)
    higher_is_better = {m: m == "chexprompt_zero_significant_share" for m in metric_names}

    def __init__(self, model: str = "", base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 base_url_env: str = "OPENAI_BASE_URL", api_version: str | None = None,
                 cache_dir: str = DEFAULT_CACHE_DIR, concurrency: int = 8, parse_retries: int = 2,
                 timeout: float = 60.0, max_retries: int = 6, backoff: float = 1.0, max_backoff: float = 60.0,
                 max_total_s: float = 600.0, max_tokens: int = 256) -> None:
        from radzoo.plugins.evaluators.judge_client import JudgeClient

        if int(concurrency) < 1:
            raise ValueError(f"chexprompt: option concurrency={concurrency!r} must be at least 1")
        self.client = JudgeClient(model=model, base_url=base_url, api_key_env=api_key_env,
                                  base_url_env=base_url_env, api_version=api_version, timeout=timeout,
                                  max_retries=max_retries, backoff=backoff, max_backoff=max_backoff,
                                  max_total_s=max_total_s, max_tokens=max_tokens)
        self.cache = JudgeCache(cache_dir)
        self.concurrency, self.parse_retries = int(concurrency), int(parse_retries)
        self.requests = 0  # judge calls made by this evaluator (cache hits cost none)
        self._lock = threading.Lock()
        self.unparsed_answers: list[dict[str, Any]] = []  # what the judge said when it could not be parsed

    def options(self) -> dict[str, Any]:
        return {**self.client.describe(), "prompt_version": PROMPT_VERSION, "parse_retries": self.parse_retries}

    def _judge(self, index: int, reference: str, candidate: str) -> np.ndarray:
        key = judge_key(self.client.model, PROMPT_VERSION, reference, candidate)
        record = self.cache.get(key)
        if record is None:
            messages = judge_messages(reference, candidate)
            for _ in range(1 + self.parse_retries):
                with self._lock:
                    self.requests += 1
                answer = self.client.complete(messages)
                parsed = parse_answer(answer)
                if parsed is not None:
                    record = {"model": self.client.model, "prompt_version": PROMPT_VERSION, "answer": answer,
                              **{severity: list(counts) for severity, counts in parsed.items()}}
                    self.cache.put(key, record)
                    break
            else:
                self.unparsed_answers.append({"index": index, "answer": answer})
                return np.array([np.nan] * 12 + [1.0])
        return np.array([*record["significant"], *record["insignificant"], 0.0], dtype=np.float64)

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """[n, 13]: significant A..F, insignificant A..F, unparsed (1.0) — one judge call per uncached pair."""
        check_pairs(predictions, references)
        if not predictions:
            return np.zeros((0, 13))
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="chexprompt") as pool:
            futures = [pool.submit(self._judge, i, ref, pred)
                       for i, (pred, ref) in enumerate(zip(predictions, references))]
            try:
                rows = [future.result() for future in futures]
            except BaseException:
                for future in futures:  # the answers already cached survive for the rerun
                    future.cancel()
                raise
        return np.stack(rows)

    def aggregate(self, stats: np.ndarray, indices: Sequence[int] | None = None) -> dict[str, float]:
        chosen = stats if indices is None else stats[np.asarray(indices, dtype=np.int64)]
        parsed = chosen[chosen[:, 12] == 0.0, :12]
        unparsed = float(chosen[:, 12].sum())
        if len(parsed) == 0:
            return {**{m: float("nan") for m in self.metric_names}, UNPARSED: unparsed}
        significant, insignificant = parsed[:, :6].sum(axis=1), parsed[:, 6:].sum(axis=1)
        values = [significant.mean(), insignificant.mean(), (significant == 0).mean(), *parsed.mean(axis=0)]
        return {**dict(zip(self.metric_names, (float(v) for v in values))), UNPARSED: unparsed}
