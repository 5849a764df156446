"""The dynamic batcher on its own (a stand-in model): batch sizes, the wait, cancelled jobs, failures, draining."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import torch

from radzoo.serving.batcher import DynamicBatcher
from radzoo.serving.errors import APIError
from radzoo.serving.report_runner import ReportJob


class StandInModel:
    """Records each batch's job names and answers ``name!``; can hold a batch until released, or fail one."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.running = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, jobs) -> list[str]:
        names = [job.indication for job in jobs]
        self.batches.append(names)
        self.running.set()
        self.release.wait(timeout=30)
        if "boom" in names:
            raise RuntimeError("the model failed")
        return [f"{name}!" for name in names]


def job(name: str) -> ReportJob:
    return ReportJob(torch.zeros(1), name, 4)


async def started(model: StandInModel, size: int, wait_ms: float) -> DynamicBatcher:
    batcher = DynamicBatcher(model, size, wait_ms)
    batcher.start()
    return batcher


def test_batches_fill_up_to_the_max_and_the_last_waits_at_most_max_wait():
    model = StandInModel()

    async def scenario():
        batcher = await started(model, 3, 300)
        begin = time.monotonic()
        answers = await asyncio.gather(*(batcher.submit(job(f"r{i}")) for i in range(7)))
        await batcher.close()
        return answers, time.monotonic() - begin

    answers, seconds = asyncio.run(scenario())
    assert answers == [f"r{i}!" for i in range(7)]
    assert model.batches == [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]]
    assert seconds < 10  # the lone last job went after its wait, not never


def test_a_request_cancelled_while_queued_frees_its_slot():
    model = StandInModel()

    async def scenario():
        batcher = await started(model, 2, 0)
        model.release.clear()
        first = asyncio.create_task(batcher.submit(job("a")))
        await asyncio.get_running_loop().run_in_executor(None, model.running.wait, 30)  # "a" is on the model
        queued = {name: asyncio.create_task(batcher.submit(job(name))) for name in ("b", "c", "d")}
        await asyncio.sleep(0)
        queued["b"].cancel()  # its client hangs up while it waits
        model.release.set()
        answers = [await first, await queued["c"], await queued["d"]]
        with pytest.raises(asyncio.CancelledError):
            await queued["b"]
        await batcher.close()
        return answers, batcher.cancelled

    answers, cancelled = asyncio.run(scenario())
    assert answers == ["a!", "c!", "d!"]
    assert model.batches == [["a"], ["c", "d"]] and cancelled == 1


def test_a_failing_batch_fails_its_own_requests_and_the_next_ones_are_served():
    model = StandInModel()

    async def scenario():
        batcher = await started(model, 4, 0)
        with pytest.raises(RuntimeError, match="the model failed"):
            await batcher.submit(job("boom"))
        answer = await batcher.submit(job("after"))
        await batcher.close()
        return answer

    assert asyncio.run(scenario()) == "after!"


def test_close_finishes_every_queued_job_then_refuses_new_ones():
    model = StandInModel()

    async def scenario():
        batcher = await started(model, 1, 0)
        model.release.clear()
        tasks = [asyncio.create_task(batcher.submit(job(f"q{i}"))) for i in range(3)]
        await asyncio.sleep(0)
        closing = asyncio.create_task(batcher.close())
        await asyncio.sleep(0.05)
        model.release.set()
        await closing
        with pytest.raises(RuntimeError, match="shutting down"):
            await batcher.submit(job("late"))
        return [await t for t in tasks]

    assert asyncio.run(scenario()) == ["q0!", "q1!", "q2!"]
    assert model.batches == [["q0"], ["q1"], ["q2"]]


@pytest.mark.parametrize("size,wait", [(0, 10), (4, -1)])
def test_bad_batch_settings_are_refused(size, wait):
    with pytest.raises(ValueError, match="--max-batch-size|--max-wait-ms"):
        DynamicBatcher(StandInModel(), size, wait)


def test_a_full_queue_refuses_at_once_with_503_and_retry_after_and_frees_up_as_jobs_leave():
    model = StandInModel()

    async def scenario():
        batcher = await started(model, 1, 0)
        batcher.max_queue = 2
        model.release.clear()
        first = asyncio.create_task(batcher.submit(job("run")))
        await asyncio.get_running_loop().run_in_executor(None, model.running.wait, 30)  # "run" is on the model
        queued = [asyncio.create_task(batcher.submit(job(f"q{i}"))) for i in range(2)]
        await asyncio.sleep(0)
        assert batcher.queue_depth() == 2
        began = time.monotonic()
        with pytest.raises(APIError) as refused:
            batcher.enqueue(job("over"))
        refused_in = time.monotonic() - began
        queued[0].cancel()  # a waiting client leaves: its place is free again
        await asyncio.sleep(0)
        late = asyncio.create_task(batcher.submit(job("late")))
        model.release.set()
        answers = [await first, await queued[1], await late]
        await batcher.close()
        return refused.value, refused_in, answers

    error, refused_in, answers = asyncio.run(scenario())
    assert error.status == 503 and error.code == "queue_full" and "--max-queue" in error.message
    assert int(error.headers["Retry-After"]) >= 1
    assert refused_in < 0.5
    assert answers == ["run!", "q1!", "late!"]


def test_a_queue_bound_below_one_is_refused():
    with pytest.raises(ValueError, match="--max-queue"):
        DynamicBatcher(StandInModel(), 1, 0, max_queue=0)
