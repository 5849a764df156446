"""`radzoo serve` under load, through real clients on loopback: a full queue answers 503 with Retry-After at once,
a request past --request-timeout-s gets a clean 504, and GET /metrics is Prometheus text that counts both."""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_process import MODEL, Case, ServerProcess, ask, user_message, write_cases

pytestmark = pytest.mark.slow  # a server process each, and a model that writes 96-token reports


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[Case]:
    return write_cases(tmp_path_factory.mktemp("load_images"), generate=False)


def scrape(base: str) -> dict[str, float]:
    """GET /metrics parsed by Prometheus' own parser: sample name (with labels) -> value."""
    with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def test_a_burst_past_max_queue_gets_503_with_retry_after_and_metrics_count_it(tmp_path, cases):
    server = ServerProcess(tmp_path / "server.log", "--max-queue", "1", "--max-batch-size", "1",
                           "--max-wait-ms", "0", tokens=96)
    try:
        client = server.client()

        def one(i: int):
            began = time.monotonic()
            try:
                return ask(client, cases[i % len(cases)]), time.monotonic() - began
            except openai.APIStatusError as exc:
                return exc, time.monotonic() - began

        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(one, range(16)))
        refused = [(e, s) for e, s in outcomes if isinstance(e, openai.APIStatusError)]
        served = [a for a, _ in outcomes if not isinstance(a, openai.APIStatusError)]
        assert refused and served, [type(o).__name__ for o, _ in outcomes]
        for exc, _seconds in refused:
            assert exc.status_code == 503 and exc.body["code"] == "queue_full", exc
            assert int(exc.response.headers["retry-after"]) >= 1
        assert all(a.choices[0].message.content for a in served)
        # the server is still up and serves the next request
        assert ask(client, cases[0]).choices[0].finish_reason in ("stop", "length")
        figures = scrape(server.base)
        assert figures["radzoo_rejected_requests_total"] == len(refused)
        assert figures["radzoo_reports_total"] == len(served) + 1
        assert figures["radzoo_request_latency_seconds_count"] == len(served) + 1
        assert figures["radzoo_batch_size_count"] == len(served) + 1
        assert figures["radzoo_batch_size_bucket{le=1.0}"] == len(served) + 1  # batches of one, as configured
        assert figures["radzoo_generated_tokens_total"] > 0 and figures["radzoo_tokens_per_second"] > 0
        assert figures["radzoo_queue_depth"] == 0 and figures["radzoo_timed_out_requests_total"] == 0
    finally:
        server.stop()


def test_a_request_past_the_timeout_gets_a_clean_504_and_the_server_keeps_serving(tmp_path, cases):
    server = ServerProcess(tmp_path / "server.log", "--request-timeout-s", "0.001")
    try:
        client = server.client()
        with pytest.raises(openai.APIStatusError) as whole:
            ask(client, cases[0])
        assert whole.value.status_code == 504 and whole.value.body["code"] == "timeout"
        assert "--request-timeout-s" in whole.value.body["message"]
        # a streamed request ends with an error event, which the openai client raises
        with pytest.raises(openai.APIError, match="request-timeout-s"):
            stream = client.chat.completions.create(model=MODEL, messages=user_message(cases[1].url), stream=True)
            for _chunk in stream:
                pass
        figures = scrape(server.base)
        assert figures["radzoo_timed_out_requests_total"] == 2
        assert server.health()["status"] == "ok"
    finally:
        server.stop()
