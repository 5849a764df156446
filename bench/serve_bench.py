"""`radzoo serve` under load: reports/s and p50/p95 latency with 1, 4 and 16 concurrent clients (CPU, demo recipes).

Each demo recipe is served (untrained, greedy, its own 96 new tokens) by a real `radzoo serve` subprocess with
dynamic batching; closed-loop clients (the `openai` client, one thread each) send one request after another.
Goal on CPU: 16 clients reach >= 4x the reports/s of 1 client.

    python bench/serve_bench.py            # writes bench/results/serve_cpu.json
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai
from PIL import Image

RESULTS = Path(__file__).parent / "results"
DEMO_RECIPES = ("demo/llava-rad", "demo/slava-cxr", "demo/cxr-llava")
INDICATIONS = ["cough", None, "fever, dyspnoea", None]


def image_urls(n: int) -> list[str]:
    """``n`` noise PNGs as data: URLs."""
    rng = np.random.default_rng(0)
    urls = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray((rng.random((96, 96)) * 255).astype("uint8")).save(buf, format="PNG")
        urls.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    return urls


def start_server(recipe: str, args: argparse.Namespace, log: Path,
                 extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, int]:
    """A `radzoo serve` subprocess on a free loopback port (``extra``: more overrides and flags), once /health
    answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "radzoo.cli", "serve", recipe, "--port", str(port),
                                 "--max-batch-size", str(args.max_batch_size), "--max-wait-ms", str(args.max_wait_ms),
                                 *extra],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server for {recipe} exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"server for {recipe} did not start in 300 s")


def drive(client: openai.OpenAI, model: str, urls: list[str], clients: int, per_client: int) -> dict:
    """``clients`` closed-loop clients sending ``per_client`` requests each: reports/s and latency percentiles."""

    def one_client(k: int) -> list[tuple[float, int]]:
        timings = []
        for i in range(per_client):
            j = (k * per_client + i) % len(urls)
            parts = [{"type": "image_url", "image_url": {"url": urls[j]}}]
            if INDICATIONS[j % len(INDICATIONS)]:
                parts.append({"type": "text", "text": INDICATIONS[j % len(INDICATIONS)]})
            start = time.perf_counter()
            answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": parts}])
            timings.append((time.perf_counter() - start, answer.usage.completion_tokens))
        return timings

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        timings = [t for result in pool.map(one_client, range(clients)) for t in result]
    wall = time.perf_counter() - start
    latency = np.array([t for t, _ in timings])
    return {"clients": clients, "requests": len(timings), "seconds": round(wall, 2),
            "reports_per_s": round(len(timings) / wall, 2),
            "tokens_per_s": round(sum(n for _, n in timings) / wall, 1),
            "latency_p50_s": round(float(np.percentile(latency, 50)), 3),
            "latency_p95_s": round(float(np.percentile(latency, 95)), 3)}


def bench_recipe(recipe: str, args: argparse.Namespace, urls: list[str], log: Path) -> dict:
    proc, port = start_server(recipe, args, log)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=600)
        model = client.models.list().data[0].id
        drive(client, model, urls, 1, 2)  # warm-up: first-call allocations
        levels = [drive(client, model, urls, c, max(args.min_requests // c, 2)) for c in args.clients]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as response:
            batch_sizes = json.loads(response.read())["batch_sizes"]
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    base = levels[0]["reports_per_s"]
    for level in levels:
        level["speedup_vs_1_client"] = round(level["reports_per_s"] / base, 2)
        print(f"{recipe:16} {level['clients']:>3} clients: {level['reports_per_s']:7.2f} reports/s "
              f"({level['speedup_vs_1_client']:.1f}x), p50 {level['latency_p50_s']:.3f} s, "
              f"p95 {level['latency_p95_s']:.3f} s", flush=True)
    return {"recipe": recipe, "levels": levels, "batch_sizes_seen": batch_sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(DEMO_RECIPES))
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--min-requests", type=int, default=48, help="requests per level (at least 2 per client)")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=50.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the server (OMP_NUM_THREADS)")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_cpu.json")
    args = parser.parse_args()
    urls = image_urls(16)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as logs:  # the servers' logs, shown only when one fails to start
        runs = [bench_recipe(r, args, urls, Path(logs) / f"{r.replace('/', '_')}.log") for r in args.recipes]
    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "server": {"threads": args.threads, "max_batch_size": args.max_batch_size,
                         "max_wait_ms": args.max_wait_ms, "device": "cpu", "dtype": "fp32"},
              "runs": runs}
    write_result(args.out, result)


def write_result(out: Path, result: dict) -> None:
    """The figures as JSON, and a line saying where, with the load averages the run saw."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}; load average before {result['load_average_before']}, after {result['load_average_after']}")


if __name__ == "__main__":
    main()
