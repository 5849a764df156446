"""The FastAPI app: ``POST /v1/chat/completions`` (whole or streamed), ``GET /v1/models``, ``GET /health``,
``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from radzoo.errors import InputError
from radzoo.serving.batcher import DynamicBatcher
from radzoo.serving.chat_request import ReportRequest, parse_chat_request
from radzoo.serving.errors import APIError, timed_out
from radzoo.serving.image_input import ImageLimits
from radzoo.serving.metrics import CONTENT_TYPE, ServeMetrics
from radzoo.serving.report_runner import Report, ReportJob
from radzoo.serving.served_model import ServedModel
from radzoo.serving.sse import Completion, event

log = logging.getLogger(__name__)
JSON_OVERHEAD = 1 << 20  # room for the messages around the base64 image
DISCONNECT_POLL_S = 0.2


@dataclass(frozen=True)
class ServeSettings:
    """How the server batches and what it accepts."""

    max_batch_size: int = 8
    max_wait_ms: float = 50.0
    limits: ImageLimits = ImageLimits()
    api_key: str | None = None
    max_queue: int | None = 128  # requests waiting for a batch slot; past it a request gets 503 at once
    request_timeout_s: float = 300.0  # from arrival to report; past it the request gets 504


def create_app(served: ServedModel, settings: ServeSettings) -> FastAPI:
    """The app serving ``served``; its lifespan starts the batcher and, at shutdown, drains it."""
    if settings.request_timeout_s <= 0:
        raise InputError(f"--request-timeout-s must be more than 0, got {settings.request_timeout_s}")
    metrics = ServeMetrics(lambda: batcher.queue_depth(), lambda: batcher.running)
    batcher: DynamicBatcher[Report] = DynamicBatcher(served.runner, settings.max_batch_size, settings.max_wait_ms,
                                                     settings.max_queue, metrics)
    body_limit = settings.limits.max_bytes * 4 // 3 + JSON_OVERHEAD

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.close()  # uvicorn has let the in-flight requests finish; their batches are done too

    app = FastAPI(title="radzoo serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(APIError)
    async def api_error(_request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {exc.detail}; the API is POST /v1/chat/completions, " \
                  "GET /v1/models, GET /health and GET /metrics"
        return JSONResponse(APIError(exc.status_code, message, code=str(exc.status_code)).body(),
                            status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def server_error(_request: Request, exc: Exception) -> JSONResponse:
        # a bug or a model failure: this request fails (logged with its traceback), the server goes on
        message = f"the server failed on this request ({type(exc).__name__}); its log has the details"
        return JSONResponse(APIError(500, message, type="server_error", code="internal_error").body(),
                            status_code=500)

    def authorize(request: Request) -> None:
        if settings.api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # constant time, so the key cannot be guessed byte by byte from response times
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.api_key.encode()):
            raise APIError(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>' with the "
                           "key the server was started with (--api-key-env)", code="invalid_api_key")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": served.name, "batch_sizes": dict(sorted(batcher.batch_sizes.items())),
                "cancelled": batcher.cancelled}

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models() -> dict[str, Any]:
        card = {"id": served.name, "object": "model", "created": 0, "owned_by": "radzoo",
                "weights_from": served.weights_from}
        if served.provenance is not None:
            card["provenance"] = served.provenance
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)])
    async def chat_completions(request: Request) -> Response:
        arrived = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + settings.request_timeout_s
        body = await _read_body(request, body_limit)

        def parse() -> tuple[ReportRequest, Any]:
            parsed = parse_chat_request(body, served.name, served.runner.max_tokens, settings.limits)
            return parsed, served.runner.views(parsed)

        parsed, pixels = await run_in_threadpool(parse)  # decoding a big DICOM must not stall the event loop
        completion = Completion(served.name)
        if parsed.stream:
            stream = _stream(batcher, completion, parsed, pixels, Deadline(deadline, settings.request_timeout_s,
                                                                           metrics, arrived))
            return StreamingResponse(stream, media_type="text/event-stream")
        job = ReportJob(pixels, parsed.indication, parsed.max_tokens, prior_report=parsed.prior_report)
        task = asyncio.create_task(batcher.wait(job, batcher.enqueue(job)))  # a full queue: 503 here, at once
        loop = asyncio.get_running_loop()
        while not task.done():
            await asyncio.wait({task}, timeout=min(DISCONNECT_POLL_S, max(0.0, deadline - loop.time())))
            if task.done():
                break
            if loop.time() >= deadline:
                task.cancel()  # too late: its job leaves the queue, or its row stops
                metrics.timed_out.inc()
                raise timed_out(settings.request_timeout_s)
            if await request.is_disconnected():
                task.cancel()  # the client left: its job leaves the queue, or its row stops
                return Response(status_code=499)
        report = task.result()
        metrics.reports.inc()
        metrics.latency.observe(time.perf_counter() - arrived)
        return JSONResponse(completion.body(report))

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (never read whole into memory first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _body_too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _body_too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _body_too_large(size: int, limit: int) -> APIError:
    return APIError(413, f"the request body is over {limit / 2**20:.1f} MiB (got {size / 2**20:.1f} MiB or more); "
                    "send a smaller image or raise --max-image-bytes", code="request_too_large")


@dataclass(frozen=True)
class Deadline:
    """A streamed request's time limit (loop time) and where its outcome is counted."""

    at: float
    seconds: float
    metrics: ServeMetrics
    arrived: float


async def _stream(batcher: DynamicBatcher[Report], completion: Completion, parsed: ReportRequest,
                  pixels: Any, deadline: Deadline) -> AsyncIterator[str]:
    """The report as chunks while the model writes it; a client that leaves cancels its job; past the deadline
    the stream ends with an error event (OpenAI's clients raise it)."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    job = ReportJob(pixels, parsed.indication, parsed.max_tokens, prior_report=parsed.prior_report,
                    on_text=lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text))
    task = asyncio.create_task(batcher.wait(job, batcher.enqueue(job)))  # a full queue: 503 before the stream
    # queued after every piece the model thread sent before the batch returned: the stream's end marker
    task.add_done_callback(lambda _task: pieces.put_nowait(None))
    try:
        yield completion.chunk({"role": "assistant", "content": ""})
        while True:
            try:
                piece = await asyncio.wait_for(pieces.get(), max(0.0, deadline.at - loop.time()))
            except TimeoutError:
                task.cancel()
                deadline.metrics.timed_out.inc()
                yield event(timed_out(deadline.seconds).body())
                return
            if piece is None:
                break
            yield completion.chunk({"content": piece})
        report = task.result()
        deadline.metrics.reports.inc()
        deadline.metrics.latency.observe(time.perf_counter() - deadline.arrived)
        yield completion.chunk({}, report.finish_reason)
        if parsed.include_usage:
            yield completion.chunk({}, report_usage=report)
        yield event("[DONE]")
    finally:
        if not task.done():
            task.cancel()
