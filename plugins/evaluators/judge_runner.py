"""Runs one LLM-judge call per (reference, candidate) pair: concurrent, cached, unparseable answers retried.

Shared by the judge evaluators (CheXprompt, GREEN-style). A parsed answer is cached as soon as it arrives
(radzoo.chat_endpoint.judge_cache), so a crash loses nothing already paid for; an answer that still does not parse after
``parse_retries`` further calls is recorded (``unparsed_answers``) and flagged in its row, never dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np

from radzoo.chat_endpoint.judge_cache import JudgeCache, endpoint_host, judge_key
from radzoo.chat_endpoint.judge_client import JudgeClient, JudgeError
from radzoo.errors import InputError
from radzoo.plugins.evaluators.ngram_metrics import check_pairs
from radzoo.progress import Progress

log = logging.getLogger("radzoo.judge")
CLIENT_OPTIONS = ("model", "base_url", "api_key_env", "base_url_env", "api_version", "timeout", "connect_timeout",
                  "max_retries", "backoff", "max_backoff", "max_total_s", "max_tokens")


class JudgeRunner:
    """``run(...) -> [n, width + 1]``: the parsed values of each pair, then 1.0 where the answer never parsed."""

    def __init__(self, cache_dir: str | None = None, concurrency: int = 8, parse_retries: int = 2,
                 evaluator: str = "judge", **client_options: Any) -> None:
        unknown = sorted(set(client_options) - set(CLIENT_OPTIONS))
        if unknown:
            raise InputError(f"{evaluator}: unknown option(s) {', '.join(unknown)}; known: cache_dir, concurrency, "
                             f"parse_retries, {', '.join(CLIENT_OPTIONS)}")
        if int(concurrency) < 1:
            raise InputError(f"{evaluator}: option concurrency={concurrency!r} must be at least 1")
        if not client_options.get("model"):
            raise InputError(f"{evaluator}: no judge model given; pass --option {evaluator}.model=NAME (the model, "
                             "or the Azure deployment, that the endpoint serves)")
        self.client = JudgeClient(**client_options)
        self.cache = JudgeCache(cache_dir)
        self.endpoint = endpoint_host(self.client.base_url)
        self.concurrency, self.parse_retries = int(concurrency), int(parse_retries)
        self.requests = 0  # judge calls made (cache hits cost none)
        self.cached_answers = 0  # pairs answered from the cache in the last run
        self.unparsed_answers: list[dict[str, Any]] = []  # what the judge said when it could not be parsed
        self._lock = threading.Lock()
        self._endpoint_failed = threading.Event()

    def _one(self, index: int, reference: str, candidate: str, prompt_version: str,
             messages: Callable[[str, str], list[dict[str, str]]],
             parse: Callable[[str], Sequence[float] | None], width: int) -> np.ndarray | None:
        """The pair's row; None when it was not asked because the endpoint had already failed."""
        key = judge_key(self.endpoint, self.client.model, prompt_version, reference, candidate)
        record = self.cache.get(key)
        if record is not None:
            with self._lock:
                self.cached_answers += 1
        else:
            if self._endpoint_failed.is_set():
                return None
            prompt = messages(reference, candidate)
            for _ in range(1 + self.parse_retries):
                with self._lock:
                    self.requests += 1
                try:
                    answer = self.client.complete(prompt)
                except JudgeError as exc:
                    if exc.stops_run:  # set before the error travels, so no queued pair starts after it
                        self._endpoint_failed.set()
                    raise
                values = parse(answer)
                if values is not None:
                    record = {"endpoint": self.endpoint, "model": self.client.model,
                              "prompt_version": prompt_version, "answer": answer,
                              "values": [float(v) for v in values]}
                    self.cache.put(key, record)
                    break
            else:
                with self._lock:
                    self.unparsed_answers.append({"index": index, "answer": answer})
                return np.array([np.nan] * width + [1.0])
        return np.array([*record["values"], 0.0], dtype=np.float64)

    def run(self, predictions: Sequence[str], references: Sequence[str], prompt_version: str,
            messages: Callable[[str, str], list[dict[str, str]]],
            parse: Callable[[str], Sequence[float] | None], width: int) -> np.ndarray:
        """One judge answer per (reference, prediction) pair, ``concurrency`` at a time.

        A pair that fails for good is recorded and the others go on, except when the failure says the endpoint
        itself is unusable (retries or time exhausted, bad key): then pairs not started yet are not started.
        Either way every answer received is cached first, and one JudgeError sums up what failed.
        """
        check_pairs(predictions, references)
        if not predictions:
            return np.zeros((0, width + 1))
        rows: list[np.ndarray | None] = [None] * len(predictions)
        failures: list[tuple[int, JudgeError]] = []
        progress = Progress(len(predictions), f"judge {prompt_version}", log.info, unit="pairs")
        self._endpoint_failed.clear()
        self.cached_answers, requests_before = 0, self.requests
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="judge") as pool:
            futures = {pool.submit(self._one, i, ref, pred, prompt_version, messages, parse, width): i
                       for i, (pred, ref) in enumerate(zip(predictions, references))}
            try:
                for future in as_completed(futures):
                    try:
                        rows[futures[future]] = future.result()
                    except JudgeError as exc:
                        failures.append((futures[future], exc))
                    progress.advance()
            except BaseException:
                for future in futures:  # answers already cached survive for the rerun
                    future.cancel()
                raise
        log.info("judge %s: %d of %d answers from the cache in %s, %d judge call(s) to %s", prompt_version,
                 self.cached_answers, len(rows), self.cache.directory, self.requests - requests_before, self.endpoint)
        if failures:
            raise JudgeError(self._failure_summary(failures, sum(r is not None for r in rows), len(rows)))
        return np.stack(rows)  # type: ignore[arg-type]

    def _failure_summary(self, failures: list[tuple[int, JudgeError]], answered: int, total: int) -> str:
        index, first = min(failures, key=lambda pair: pair[0])
        skipped = total - answered - len(failures)
        return (f"judge: {len(failures)} of {total} pairs failed, {answered} answered"
                + (f", {skipped} not started after the endpoint failed" if skipped else "")
                + f"; first failure (pair {index}): {first}; answers are cached in {self.cache.directory}: rerun "
                "the same command to ask only for the pairs without one")
