"""Dynamic batching: requests queue up (at most ``max_queue`` of them; past that a request is refused at once),
and the model thread takes up to ``max_batch_size`` of them at a time, waiting at most ``max_wait_ms`` after the
first for more to arrive."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from radzoo.errors import InputError, RunFailedError
from radzoo.serving.errors import queue_full
from radzoo.serving.metrics import ServeMetrics
from radzoo.serving.report_runner import ReportJob

log = logging.getLogger(__name__)
R = TypeVar("R")


class DynamicBatcher(Generic[R]):
    """Collects jobs on the event loop and runs each batch in one worker thread with ``run_batch``."""

    def __init__(self, run_batch: Callable[[Sequence[ReportJob]], list[R | None]], max_batch_size: int,
                 max_wait_ms: float, max_queue: int | None = None, metrics: ServeMetrics | None = None) -> None:
        if max_batch_size < 1:
            raise InputError(f"--max-batch-size must be at least 1, got {max_batch_size}")
        if max_queue is not None and max_queue < 1:
            raise InputError(f"--max-queue must be at least 1, got {max_queue}")
        if max_wait_ms < 0:
            raise InputError(f"--max-wait-ms must be 0 or more, got {max_wait_ms}")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.metrics = metrics
        self.running = 0  # jobs in the batch on the model now
        self.batch_seconds = 1.0  # moving average of a batch's time on the model: the Retry-After estimate
        self.batch_sizes: collections.Counter[int] = collections.Counter()  # for /health: how batching goes
        self.cancelled = 0  # jobs whose client left before their report was done
        self._pending: collections.deque[tuple[ReportJob, asyncio.Future[R | None]]] = collections.deque()
        self._arrived = asyncio.Event()
        self._closing = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radzoo-model")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start taking batches (call inside the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def queue_depth(self) -> int:
        """Jobs waiting for a batch slot (a job whose client left no longer counts)."""
        return sum(1 for job, future in self._pending if not (job.cancelled.is_set() or future.done()))

    def enqueue(self, job: ReportJob) -> asyncio.Future[R | None]:
        """Queue ``job`` now (no await, so no other request can slip in between the check and the append);
        raises a 503 ``APIError`` with a Retry-After estimate when ``max_queue`` jobs already wait."""
        if self._closing:
            raise RunFailedError("the server is shutting down")
        # counting live jobs only when the deque looks full keeps the common case O(1)
        if self.max_queue is not None and len(self._pending) >= self.max_queue:
            depth = self.queue_depth()
            if depth >= self.max_queue:
                if self.metrics is not None:
                    self.metrics.rejected.inc()
                batches_ahead = depth / self.max_batch_size + 1
                raise queue_full(depth, max(1, math.ceil(batches_ahead * self.batch_seconds)))
        future: asyncio.Future[R | None] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        self._arrived.set()
        return future

    async def submit(self, job: ReportJob) -> R | None:
        """Queue ``job`` and wait for its result; a cancelled wait (client gone) frees the job's batch slot."""
        return await self.wait(job, self.enqueue(job))

    async def wait(self, job: ReportJob, future: asyncio.Future[R | None]) -> R | None:
        """Wait for an enqueued job's result; cancelling the wait drops the job from the queue or stops its row."""
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self.cancelled += 1
            job.cancelled.set()  # dropped from the queue, or its row stops at the next token
            raise

    async def close(self) -> None:
        """Finish every queued and running job, then stop the model thread."""
        self._closing = True
        self._arrived.set()
        if self._task is not None:
            await self._task
        self._worker.shutdown(wait=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            batch = await self._collect(loop)
            jobs = [job for job, _ in batch]
            if not jobs:
                continue  # every queued client left
            self.batch_sizes[len(jobs)] += 1
            self.running = len(jobs)
            began = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._worker, self.run_batch, jobs)
            except Exception as exc:  # a model failure fails this batch's requests, not the server
                log.exception("radzoo serve: a batch of %d failed", len(jobs))
                if self.metrics is not None:
                    self.metrics.failed.inc(len(jobs))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                self.running = 0
            seconds = time.perf_counter() - began
            self.batch_seconds = 0.8 * self.batch_seconds + 0.2 * seconds
            if self.metrics is not None:
                tokens = sum(int(getattr(r, "completion_tokens", 0)) for r in results if r is not None)
                self.metrics.batch_done(len(jobs), seconds, tokens)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _collect(self, loop: asyncio.AbstractEventLoop) -> list[tuple[ReportJob, asyncio.Future[R | None]]]:
        """Up to max_batch_size live jobs, waiting at most max_wait after the first one for the others."""
        batch: list[tuple[ReportJob, asyncio.Future[R | None]]] = []
        deadline = loop.time() + self.max_wait
        while True:
            while self._pending and len(batch) < self.max_batch_size:
                job, future = self._pending.popleft()
                if job.cancelled.is_set() or future.done():
                    continue  # its client left while it queued: the slot goes to the next one
                batch.append((job, future))
            remaining = deadline - loop.time()
            if len(batch) >= self.max_batch_size or remaining <= 0 or self._closing:
                if batch or not self._pending:
                    return batch
                continue
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
