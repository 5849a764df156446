"""Serve a model as an OpenAI-compatible endpoint: POST an image, get its findings report.

SOURCE is anything `radzoo generate` takes: a recipe (its untrained model), a run directory (trained or
imported) or an export. POST /v1/chat/completions takes a user message with one image_url part (a base64
data: URL: PNG, JPEG or application/dicom) and optional text (the indication); concurrent requests are
batched; a bounded queue refuses what it cannot hold (503 + Retry-After), a timeout ends what takes too long
(504), and GET /metrics gives Prometheus figures. Needs the serve extra: pip install "radzoo[serve]".
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from radzoo.errors import InputError

EXTRA_HINT = 'serving needs FastAPI and uvicorn, which a plain install leaves out: pip install "radzoo[serve]"'
log = logging.getLogger("radzoo.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="recipe path/name, run directory, export or imported model")
    parser.add_argument("overrides", nargs="*", help="key=value recipe overrides, e.g. generation.max_new_tokens=128")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: 127.0.0.1, this machine only; 0.0.0.0 for the network)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--api-key-env", metavar="NAME",
                        help="environment variable holding the API key every request must send as "
                             "'Authorization: Bearer KEY' (default: no key)")
    parser.add_argument("--max-batch-size", type=int, default=8, help="requests per model batch (default: 8)")
    parser.add_argument("--max-wait-ms", type=float, default=50.0,
                        help="how long a batch waits for more requests after its first (default: 50)")
    parser.add_argument("--max-queue", type=int, default=128,
                        help="requests that may wait for a batch slot; past it a request gets 503 with Retry-After "
                             "at once (default: 128)")
    parser.add_argument("--request-timeout-s", type=float, default=300.0,
                        help="seconds from a request's arrival to its report; past it the request gets 504 and "
                             "its job is dropped (default: 300)")
    parser.add_argument("--max-image-bytes", type=int, default=50 * 2**20,
                        help="largest image file accepted, in bytes (default: 50 MiB)")
    parser.add_argument("--max-image-pixels", type=int, default=50_000_000,
                        help="largest image accepted, width x height (default: 50,000,000)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"),
                        help="weights dtype (default: fp32)")


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from radzoo.serving.app import ServeSettings, create_app  # optional extra [serve]: fastapi
    except ModuleNotFoundError as exc:
        if exc.name not in ("fastapi", "uvicorn", "starlette", "prometheus_client"):
            raise
        print(f"radzoo serve: error: {EXTRA_HINT}", file=sys.stderr)
        return 2
    from radzoo.serving.image_input import ImageLimits  # start-up time: radzoo --help imports every command
    from radzoo.serving.served_model import load_served_model

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, "").strip()
        if not api_key:
            raise InputError(f"--api-key-env {args.api_key_env}: that environment variable is unset or empty; "
                             f"set it to the key clients will send (export {args.api_key_env}=...)")
    for flag, value in (("--max-image-bytes", args.max_image_bytes), ("--max-image-pixels", args.max_image_pixels)):
        if value < 1:
            raise InputError(f"{flag} must be a positive number, got {value}")
    settings = ServeSettings(args.max_batch_size, args.max_wait_ms,
                             ImageLimits(args.max_image_bytes, args.max_image_pixels), api_key, args.max_queue,
                             args.request_timeout_s)
    served = load_served_model(args.source, args.overrides, args.device, args.dtype)
    app = create_app(served, settings)  # checks the batch settings before the port is taken
    log.info("radzoo serve: %s (weights: %s) at http://%s:%d/v1, batches of up to %d waiting up to %g ms, "
             "queue up to %d, timeout %g s%s", served.name, served.weights_from, args.host, args.port,
             args.max_batch_size, args.max_wait_ms, args.max_queue, args.request_timeout_s,
             f", API key from ${args.api_key_env}" if api_key else ", no API key")
    # uvicorn's SIGTERM handling stops accepting, lets in-flight requests finish, then runs the app's shutdown
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=None)
    return 0
