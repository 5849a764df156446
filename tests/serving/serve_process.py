"""A `radzoo serve` subprocess for the serving tests, the requests they send, and the images they send."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openai
from PIL import Image
from test_data_images import write_dicom

from radzoo.cli import main as radzoo_main

RECIPE = "demo/llava-rad"
MODEL = "demo-llava-rad"
TOKENS = 16
KEY_ENV = "RADZOO_SERVE_TEST_KEY"
KEY = "sk-test-" + secrets.token_hex(16)
MAX_BYTES = 200_000
MAX_PIXELS = 1_000_000
INDICATIONS = [None, "cough", "fever and shortness of breath for three days", None, "chest pain", "fall"]


@dataclass
class Case:
    """An image as a data: URL, its indication and the report `radzoo generate` wrote for it."""

    study_id: str
    url: str
    indication: str | None
    expected: str


def data_url(data: bytes, media: str = "image/png") -> str:
    return f"data:{media};base64,{base64.b64encode(data).decode()}"


def png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def raw_request(base: str, method: str, path: str, body: bytes | None = None,
                key: str | None = KEY) -> tuple[int, dict]:
    """(status, JSON body) of a plain HTTP request: for what the openai client cannot send."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    request = urllib.request.Request(base + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def user_message(url: str | None, indication: str | None = None, extra: list | None = None) -> list[dict]:
    parts: list[dict] = [] if url is None else [{"type": "image_url", "image_url": {"url": url}}]
    if indication:
        parts.append({"type": "text", "text": indication})
    return [{"role": "user", "content": parts + (extra or [])}]


class ServerProcess:
    """``radzoo serve`` in a subprocess on a free 127.0.0.1 port, its stdout and stderr in one log file."""

    def __init__(self, log_path: Path, *args: str, tokens: int = TOKENS, source: str = RECIPE) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, KEY_ENV: KEY, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "radzoo.cli", "serve", source, f"generation.max_new_tokens={tokens}",
                 "--port", str(self.port), "--api-key-env", KEY_ENV, *args],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited early:\n{self.log()}"
            try:
                if raw_request(self.base, "GET", "/health")[0] == 200:
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError(f"server did not come up in 180 s:\n{self.log()}")

    def client(self, key: str = KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base}/v1", api_key=key, max_retries=0, timeout=120)

    def health(self) -> dict:
        return raw_request(self.base, "GET", "/health")[1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_cases(folder: Path, generate: bool = True) -> list[Case]:
    """Six images (PNG, JPEG, DICOM; varied indications) and, with ``generate``, `radzoo generate`'s reports."""
    rng = np.random.default_rng(0)
    rows, urls = [], {}
    for i, indication in enumerate(INDICATIONS):
        pixels = (rng.random((72 + 4 * i, 64)) * 255).astype("uint8")
        if i == 2:
            path = folder / f"img{i}.jpg"
            Image.fromarray(pixels).save(path, format="JPEG", quality=90)
            urls[f"s{i}"] = data_url(path.read_bytes(), "image/jpeg")
        elif i == 4:
            path = write_dicom(folder / f"img{i}.dcm", pixels.astype(np.uint16) * 16, bits_stored=12)
            urls[f"s{i}"] = data_url(path.read_bytes(), "application/dicom")
        else:
            path = folder / f"img{i}.png"
            path.write_bytes(png_bytes(pixels))
            urls[f"s{i}"] = data_url(path.read_bytes())
        rows.append({"id": f"s{i}", "image": str(path), "report": "x", "indication": indication or ""})
    table = folder / "studies.csv"
    with open(table, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if not generate:
        return [Case(row["id"], urls[row["id"]], row["indication"] or None, "") for row in rows]
    out = folder / "preds.jsonl"
    assert radzoo_main(["generate", RECIPE, f"generation.max_new_tokens={TOKENS}", "--data", str(table),
                        "--format", "csv", "--split", "all", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == len(INDICATIONS)
    return [Case(r["id"], urls[r["id"]], INDICATIONS[int(r["id"][1:])], r["prediction"]) for r in records]



def ask(client: openai.OpenAI, case: Case, **kwargs) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=MODEL, messages=user_message(case.url, case.indication), **kwargs)
