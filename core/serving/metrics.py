"""The server's figures for ``GET /metrics`` in Prometheus text format: queue depth, batch sizes, latency,
tokens, reports and refused requests (one registry per app, so two apps in one process never mix counts)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# seconds from a request's arrival to its report: a demo model on CPU answers in 0.1-10 s, a queue adds more
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServeMetrics:
    """What ``radzoo serve`` counts; ``queue_depth`` is read at scrape time from the batcher."""

    def __init__(self, queue_depth: Callable[[], int], running: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        queued = Gauge("radzoo_queue_depth", "Requests waiting for a batch slot", registry=self.registry)
        queued.set_function(queue_depth)
        busy = Gauge("radzoo_running_requests", "Requests in the batch on the model now", registry=self.registry)
        busy.set_function(running)
        self.batch_size = Histogram("radzoo_batch_size", "Requests per model batch", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.latency = Histogram("radzoo_request_latency_seconds",
                                 "Seconds from a request's arrival to its finished report", buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.reports = Counter("radzoo_reports", "Reports finished", registry=self.registry)
        self.tokens = Counter("radzoo_generated_tokens", "Report tokens generated", registry=self.registry)
        self.model_seconds = Counter("radzoo_model_seconds", "Seconds the model thread spent on batches "
                                     "(generated tokens / model seconds = tokens/s)", registry=self.registry)
        self.rejected = Counter("radzoo_rejected_requests", "Requests refused at once because the queue was full "
                                "(503)", registry=self.registry)
        self.timed_out = Counter("radzoo_timed_out_requests", "Requests that passed --request-timeout-s (504)",
                                 registry=self.registry)
        self.failed = Counter("radzoo_failed_requests", "Requests whose batch failed in the model (500)",
                              registry=self.registry)
        self.tokens_per_s = Gauge("radzoo_tokens_per_second", "Generated tokens per second of the last batch",
                                  registry=self.registry)

    def batch_done(self, size: int, seconds: float, tokens: int) -> None:
        """Record one finished model batch of ``size`` requests that wrote ``tokens`` tokens."""
        self.batch_size.observe(size)
        self.model_seconds.inc(seconds)
        self.tokens.inc(tokens)
        if seconds > 0:
            self.tokens_per_s.set(tokens / seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
