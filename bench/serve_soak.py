"""`radzoo serve` held under load: a soak of many requests from many clients, then bursts past --max-queue.

Soak: CLIENTS closed-loop `openai` clients send REQUESTS requests in all to one server (the demo recipe's model,
untrained: the same size and code path as the trained demo model). It reports p50/p99 latency, reports/s and the
server's RSS over time; goals: RSS after warm-up grows < 5%, nothing is lost (every response is a report or a
clean JSON error), the server never falls over.
Burst: BURST requests at once (one thread each) against --max-queue 32, repeated BURSTS times: the overflow gets
clean 503s with Retry-After, the server stays up and its RSS does not grow from burst to burst.

    python bench/serve_soak.py                          # the issue's figures: 10,000 requests, 16 clients
    python bench/serve_soak.py --requests 1000 --tokens 16   # what fits a shared 2-core machine
Writes bench/results/serve_soak.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai

sys.path.insert(0, str(Path(__file__).parent))
from serve_bench import image_urls, start_server, write_result  # noqa: E402  (a sibling bench script, not a package)

RESULTS = Path(__file__).parent / "results" / "serve_soak.json"


def rss_mib(pid: int) -> float:
    """The process' resident set size now, in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Outcomes:
    """Every response sorted into report / clean error (status, code) / lost (no proper answer), thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.lost: list[str] = []
        self.retry_after: list[int] = []

    def ask(self, client: openai.OpenAI, model: str, url: str) -> None:
        began = time.perf_counter()
        try:
            answer = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
            seconds = time.perf_counter() - began
            with self.lock:
                if answer.choices[0].message.content is not None and answer.choices[0].finish_reason:
                    self.latencies.append(seconds)
                else:
                    self.lost.append(f"200 without a report: {answer}")
        except openai.APIStatusError as exc:  # an HTTP error: clean when its body is an OpenAI error object
            clean = isinstance(exc.body, dict) and exc.body.get("code") and exc.body.get("message")
            with self.lock:
                if clean:
                    key = f"{exc.status_code} {exc.body['code']}"
                    self.errors[key] = self.errors.get(key, 0) + 1
                    if exc.status_code == 503:
                        self.retry_after.append(int(exc.response.headers.get("retry-after", "-1")))
                else:
                    self.lost.append(f"{exc.status_code} without an error object: {exc.body!r}"[:300])
        except Exception as exc:  # no HTTP answer at all: a dropped connection, a timeout
            with self.lock:
                self.lost.append(f"{type(exc).__name__}: {exc}"[:300])


def sample_rss(pid: int, outcomes: Outcomes, stop: threading.Event, every_s: float) -> list[list[float]]:
    """[seconds since start, answered so far, RSS MiB] every ``every_s`` until ``stop``."""
    samples, began = [], time.perf_counter()
    while not stop.wait(every_s):
        samples.append([round(time.perf_counter() - began, 1), len(outcomes.latencies) + sum(outcomes.errors.values()),
                        round(rss_mib(pid), 1)])
    return samples


def metrics(port: int) -> dict[str, float]:
    """The server's own counters from GET /metrics (the lines without labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    return {name: float(value) for name, value in (line.split(" ") for line in text.splitlines()
                                                    if line and not line.startswith("#") and "{" not in line)}


def soak(args: argparse.Namespace, urls: list[str], log: Path) -> dict:
    proc, port = start_server(args.recipe, args, log, (f"generation.max_new_tokens={args.tokens}",))
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=600)
        model = client.models.list().data[0].id
        outcomes, stop = Outcomes(), threading.Event()
        with ThreadPoolExecutor(1) as sampler_pool:
            sampler = sampler_pool.submit(sample_rss, proc.pid, outcomes, stop, args.sample_s)
            began = time.perf_counter()
            per_client = args.requests // args.clients

            def one_client(k: int) -> None:
                for i in range(per_client):
                    outcomes.ask(client, model, urls[(k * per_client + i) % len(urls)])

            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(one_client, range(args.clients)))
            wall = time.perf_counter() - began
            stop.set()
            rss = sampler.result()
        alive = proc.poll() is None
        server_figures = metrics(port)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    sent = per_client * args.clients
    warm = [r for r in rss if r[1] >= args.warmup_fraction * sent]
    base = warm[0][2] if warm else float("nan")
    growth = (max(r[2] for r in warm) - base) / base * 100 if warm else float("nan")
    latency = np.array(outcomes.latencies)
    return {"requests": sent, "clients": args.clients, "tokens": args.tokens, "seconds": round(wall, 1),
            "reports": len(outcomes.latencies), "clean_errors": outcomes.errors, "lost": len(outcomes.lost),
            "lost_examples": outcomes.lost[:5], "reports_per_s": round(len(latency) / wall, 2),
            "latency_p50_s": round(float(np.percentile(latency, 50)), 3) if len(latency) else None,
            "latency_p99_s": round(float(np.percentile(latency, 99)), 3) if len(latency) else None,
            "rss_mib_after_warmup": base, "rss_mib_max_after_warmup": max((r[2] for r in warm), default=None),
            "rss_growth_after_warmup_pct": round(growth, 2), "warmup": f"first {args.warmup_fraction:.0%} of requests",
            "server_alive_after": alive, "server_metrics": server_figures,
            "rss_samples": {"columns": ["s", "answered", "rss_mib"], "rows": rss}}


def burst(args: argparse.Namespace, urls: list[str], log: Path) -> dict:
    proc, port = start_server(args.recipe, args, log, (f"generation.max_new_tokens={args.tokens}",
                                                         "--max-queue", str(args.burst_queue)))
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=600)
        model = client.models.list().data[0].id
        warm = Outcomes()
        for url in urls[:4]:
            warm.ask(client, model, url)
        rounds = []
        for _ in range(args.bursts):
            outcomes, gate = Outcomes(), threading.Barrier(args.burst)

            def one(i: int, gate: threading.Barrier = gate, outcomes: Outcomes = outcomes) -> None:
                gate.wait()  # all BURST threads send at the same moment
                outcomes.ask(client, model, urls[i % len(urls)])

            began = time.perf_counter()
            with ThreadPoolExecutor(args.burst) as pool:
                list(pool.map(one, range(args.burst)))
            rounds.append({"seconds": round(time.perf_counter() - began, 1), "reports": len(outcomes.latencies),
                           "clean_errors": outcomes.errors, "lost": len(outcomes.lost),
                           "lost_examples": outcomes.lost[:3],
                           "retry_after_s": sorted(set(outcomes.retry_after)),
                           "rss_mib_after": round(rss_mib(proc.pid), 1), "server_alive": proc.poll() is None})
            print(f"burst of {args.burst}: {rounds[-1]}", flush=True)
        server_figures = metrics(port)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    first, last = rounds[0]["rss_mib_after"], rounds[-1]["rss_mib_after"]
    return {"burst": args.burst, "max_queue": args.burst_queue, "max_batch_size": args.max_batch_size,
            "rounds": rounds, "rss_growth_first_to_last_burst_pct": round((last - first) / first * 100, 2),
            "server_metrics": server_figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="demo/llava-rad")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=96, help="generation.max_new_tokens (the demo's own: 96)")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=50.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the server (OMP_NUM_THREADS)")
    parser.add_argument("--warmup-fraction", type=float, default=0.1)
    parser.add_argument("--sample-s", type=float, default=1.0, help="seconds between RSS samples")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--burst-queue", type=int, default=32)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    urls = image_urls(16)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as logs:
        result: dict = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                        "model": f"{args.recipe}, untrained (same size and code path as its trained model)",
                        "load_average_before": [round(x, 2) for x in load_before]}
        if not args.skip_soak:
            result["soak"] = soak(args, urls, Path(logs) / "soak.log")
            shown = {k: v for k, v in result["soak"].items() if k not in ("rss_samples", "server_metrics")}
            print(f"soak: {shown}", flush=True)
        result["burst"] = burst(args, urls, Path(logs) / "burst.log")
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    write_result(args.out, result)


if __name__ == "__main__":
    main()
