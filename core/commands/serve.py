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
import signal
import socket
import sys

from radzoo.errors import InputError, RunFailedError

EXTRA_HINT = ('serving needs FastAPI, uvicorn and prometheus-client, which a plain install leaves out: '
              'pip install "radzoo[serve]"')
log = logging.getLogger("radzoo.serve")


def _uvicorn_server() -> type:
    import uvicorn  # optional extra [serve]

    class Server(uvicorn.Server):
        """uvicorn's server, noting a Ctrl-C (SIGINT) so that the command exits 130 as every command does."""

        interrupted = False

        def handle_exit(self, sig: int, frame: object) -> None:
            self.interrupted = self.interrupted or sig == signal.SIGINT
            super().handle_exit(sig, frame)

    return Server


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


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` before the model loads, so a busy port fails at once and never after
    "serving" is printed."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise InputError(f"--host {host}: not an address this machine has ({exc}); use 127.0.0.1 or 0.0.0.0") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart reuses the port at once
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InputError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); pick another "
                         "--port, or stop the program that holds it") from None
    return sock


def run(args: argparse.Namespace) -> int:
    try:  # the optional extra [serve]
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401  (GET /metrics)
        import uvicorn
    except ModuleNotFoundError as exc:
        if exc.name not in ("fastapi", "uvicorn", "starlette", "prometheus_client"):
            raise
        print(f"radzoo serve: error: {EXTRA_HINT}", file=sys.stderr)
        return 2
    from radzoo.api import check_recipe  # start-up time: radzoo --help imports every command

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, "").strip()
        if not api_key:
            raise InputError(f"--api-key-env {args.api_key_env}: that environment variable is unset or empty; "
                             f"set it to the key clients will send (export {args.api_key_env}=...)")
    for flag, value in (("--max-image-bytes", args.max_image_bytes), ("--max-image-pixels", args.max_image_pixels)):
        if value < 1:
            raise InputError(f"{flag} must be a positive number, got {value}")
    check_recipe(args.source, args.overrides)  # a typo is answered before torch and the model load
    sock = listening_socket(args.host, args.port)
    # torch and the model: after every check above
    from radzoo.serving.app import ServeSettings, create_app
    from radzoo.serving.image_input import ImageLimits
    from radzoo.serving.served_model import load_served_model

    settings = ServeSettings(args.max_batch_size, args.max_wait_ms,
                             ImageLimits(args.max_image_bytes, args.max_image_pixels), api_key, args.max_queue,
                             args.request_timeout_s)

    served = load_served_model(args.source, args.overrides, args.device, args.dtype)
    app = create_app(served, settings)  # checks the batch settings
    log.info("radzoo serve: %s (weights: %s) at http://%s:%d/v1, batches of up to %d waiting up to %g ms, "
             "queue up to %d, timeout %g s%s", served.name, served.weights_from, args.host, args.port,
             args.max_batch_size, args.max_wait_ms, args.max_queue, args.request_timeout_s,
             f", API key from ${args.api_key_env}" if api_key else ", no API key")
    # uvicorn's SIGTERM handling stops accepting, lets in-flight requests finish, then runs the app's shutdown
    server = _uvicorn_server()(uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=None))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C again once its shutdown is done
        server.interrupted = True
    if server.interrupted:
        print("radzoo serve: stopped by Ctrl-C after the requests in flight finished", file=sys.stderr)
        return 130
    if not server.started:
        raise RunFailedError("the server did not start (its log above says why)")
    return 0
