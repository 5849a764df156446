"""`radzoo serve` as a real subprocess on a loopback port, driven by the real `openai` client: reports equal
`radzoo generate`'s (one by one, under concurrency, streamed), bad input is refused and the server keeps serving."""

from __future__ import annotations

import base64
import csv
import http.client
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openai
import pydicom
import pytest
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

    def __init__(self, log_path: Path, *args: str, tokens: int = TOKENS) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, KEY_ENV: KEY, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "radzoo.cli", "serve", RECIPE, f"generation.max_new_tokens={tokens}",
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


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[Case]:
    """Six images (PNG, JPEG, DICOM; varied indications) and `radzoo generate`'s JSONL reports for them."""
    folder = tmp_path_factory.mktemp("serve_images")
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
    out = folder / "preds.jsonl"
    assert radzoo_main(["generate", RECIPE, f"generation.max_new_tokens={TOKENS}", "--data", str(table),
                        "--format", "csv", "--split", "all", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == len(INDICATIONS)
    return [Case(r["id"], urls[r["id"]], INDICATIONS[int(r["id"][1:])], r["prediction"]) for r in records]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = ServerProcess(tmp_path_factory.mktemp("serve") / "server.log", "--max-batch-size", "4",
                           "--max-wait-ms", "100", "--max-image-bytes", str(MAX_BYTES),
                           "--max-image-pixels", str(MAX_PIXELS))
    yield served
    served.stop()


def ask(client: openai.OpenAI, case: Case, **kwargs) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=MODEL, messages=user_message(case.url, case.indication), **kwargs)


def test_models_lists_the_served_model_and_its_weights(server):
    models = server.client().models.list().data
    assert [m.id for m in models] == [MODEL]
    assert models[0].weights_from == "recipe (untrained)"
    assert server.health()["status"] == "ok"


def test_reports_equal_radzoo_generate_one_by_one(server, cases):
    client = server.client()
    for case in cases:
        answer = ask(client, case)
        assert answer.choices[0].message.content == case.expected, case.study_id
        assert answer.choices[0].finish_reason in ("stop", "length")
        assert 0 < answer.usage.completion_tokens <= TOKENS
        assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    # the indication goes into the model's own prompt template: without it the prompt (and usage) is shorter
    with_text = ask(client, cases[2]).usage.prompt_tokens
    without = client.chat.completions.create(model=MODEL, messages=user_message(cases[2].url)).usage.prompt_tokens
    assert with_text > without


def test_concurrent_requests_are_batched_and_equal_radzoo_generate(server, cases):
    client = server.client()
    before = server.health()["batch_sizes"]
    todo = cases * 2
    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        answers = list(pool.map(lambda case: ask(client, case).choices[0].message.content, todo))
    assert answers == [case.expected for case in todo]
    after = server.health()["batch_sizes"]
    batched = {int(size): n - before.get(size, 0) for size, n in after.items() if int(size) > 1}
    assert any(n > 0 for n in batched.values()), f"no batch of more than one request: {after}"
    assert max(int(size) for size in after) <= 4  # --max-batch-size


def test_streamed_tokens_join_to_the_report(server, cases):
    client = server.client()
    for case in cases[:2]:
        chunks = list(ask(client, case, stream=True, stream_options={"include_usage": True}))
        pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
        assert "".join(pieces) == case.expected
        assert len(pieces) >= 3  # token by token, not the finished report in one piece
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finish in (["stop"], ["length"])
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_concurrent_streams_equal_radzoo_generate(server, cases):
    client = server.client()

    def streamed(case: Case) -> str:
        return "".join(c.choices[0].delta.content or "" for c in ask(client, case, stream=True) if c.choices)

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        assert list(pool.map(streamed, cases)) == [case.expected for case in cases]


def dicom_without_pixels() -> bytes:
    """A DICOM object with no image in it (as a structured report is)."""
    image = write_dicom(io.BytesIO(), np.zeros((8, 8)))
    image.seek(0)
    ds = pydicom.dcmread(image)
    for key in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit"):
        delattr(ds, key)
    ds.Modality = "SR"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def noise_png(height: int, width: int) -> bytes:
    return png_bytes((np.random.default_rng(1).random((height, width)) * 255).astype("uint8"))


# (case name, request keyword arguments from a good case, status, error code, words the message must contain)
BAD_REQUESTS = [
    ("no image", lambda c: {"messages": user_message(None, "cough")}, 400, "missing_image", "no image"),
    ("two images", lambda c: {"messages": user_message(c.url, None, [{"type": "image_url", "image_url": {
        "url": c.url}}])}, 400, "too_many_images", "2 images"),
    ("unsupported part", lambda c: {"messages": user_message(c.url, None, [{"type": "input_audio", "input_audio": {
        "data": "AAAA", "format": "wav"}}])}, 400, "unsupported_content_type", "input_audio"),
    ("broken base64", lambda c: {"messages": user_message("data:image/png;base64,iVBOR@@w0K!!")}, 400,
     "invalid_base64", "base64"),
    ("undecodable image", lambda c: {"messages": user_message(data_url(b"this is not a PNG at all" * 20))}, 400,
     "invalid_image", "cannot be read"),
    ("DICOM without pixels",
     lambda c: {"messages": user_message(data_url(dicom_without_pixels(), "application/dicom"))}, 400,
     "invalid_image", "no pixel data"),
    ("too many bytes", lambda c: {"messages": user_message(data_url(noise_png(600, 600)))}, 413, "image_too_large",
     "MiB"),
    ("too many pixels", lambda c: {"messages": user_message(data_url(png_bytes(np.zeros((1100, 1000), "uint8"))))},
     400, "image_too_large", "1000x1100"),
    ("remote URL", lambda c: {"messages": user_message("https://example.org/cxr.png")}, 400, "invalid_image_url",
     "data: URL"),
    ("max_tokens over the limit", lambda c: {"messages": user_message(c.url), "max_tokens": TOKENS + 1}, 400,
     "max_tokens_too_large", f"limit of {TOKENS}"),
    ("unknown model", lambda c: {"messages": user_message(c.url), "model": "gpt-4o"}, 404, "model_not_found",
     "gpt-4o"),
]


@pytest.mark.parametrize("name,build,status,code,words", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_gets_an_openai_error_and_the_server_keeps_serving(server, cases, name, build, status, code,
                                                                       words):
    client = server.client()
    kwargs = {"model": MODEL, **build(cases[1])}
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(**kwargs)
    error = caught.value
    assert (error.status_code, error.code, error.type) == (status, code, "invalid_request_error")
    assert words in error.body["message"] and "\n" not in error.body["message"]
    assert ask(client, cases[1]).choices[0].message.content == cases[1].expected


def test_malformed_json_and_wrong_key_are_refused(server, cases):
    status, answer = raw_request(server.base, "POST", "/v1/chat/completions", b'{"model": "x", "messages": [')
    assert status == 400
    assert answer["error"]["code"] == "invalid_json"
    assert set(answer["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.AuthenticationError) as caught:
        ask(server.client(key="sk-wrong-" + secrets.token_hex(8)), cases[0])
    assert caught.value.code == "invalid_api_key"
    for method, path in (("GET", "/v1/models"), ("POST", "/v1/chat/completions")):
        status, answer = raw_request(server.base, method, path, b"{}" if method == "POST" else None, key=None)
        assert (status, answer["error"]["code"]) == (401, "invalid_api_key")
    assert ask(server.client(), cases[0]).choices[0].message.content == cases[0].expected


def test_client_leaving_mid_stream_cancels_its_job(server, cases):
    cancelled = server.health()["cancelled"]
    body = {"model": MODEL, "messages": user_message(cases[3].url), "stream": True}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/v1/chat/completions", json.dumps(body),
                       {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.readline().startswith(b"data: ")  # the first event, then hang up
    connection.close()
    deadline = time.monotonic() + 30
    while server.health()["cancelled"] == cancelled and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.health()["cancelled"] == cancelled + 1
    assert ask(server.client(), cases[3]).choices[0].message.content == cases[3].expected


def test_sigterm_finishes_streams_in_flight_and_the_key_is_never_logged(tmp_path, cases):
    server = ServerProcess(tmp_path / "server.log", "--max-batch-size", "4", tokens=96)
    try:
        client = server.client()
        with pytest.raises(openai.AuthenticationError):
            ask(server.client(key="sk-wrong-" + secrets.token_hex(8)), cases[0])
        assert ask(client, cases[0]).choices[0].message.content  # a complete request before the signal
        streams = [ask(client, case, stream=True, stream_options={"include_usage": True}) for case in cases[:3]]
        firsts = [next(s) for s in streams]  # all three are in flight: their responses have started
        assert all(f.choices[0].delta.role == "assistant" for f in firsts)
        server.proc.send_signal(signal.SIGTERM)
        with ThreadPoolExecutor(max_workers=3) as pool:
            rests = list(pool.map(list, streams))
        for rest in rests:
            finish = [c.choices[0].finish_reason for c in rest if c.choices and c.choices[0].finish_reason]
            assert finish in (["stop"], ["length"]), "a stream in flight was cut off by SIGTERM"
            assert rest[-1].usage.completion_tokens > 0
        # uvicorn re-raises the signal once its shutdown is done, so the exit is by SIGTERM (or 0 on older ones)
        assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
        with pytest.raises(OSError):  # no longer listening
            raw_request(server.base, "GET", "/health")
    finally:
        server.stop()
    log = server.log()
    assert "Application shutdown complete" in log  # the batcher drained, then the process left
    assert "POST /v1/chat/completions" in log and "401" in log  # the log did record the requests
    assert KEY not in log and KEY[8:] not in log


def test_serve_without_the_extra_names_it_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # what a plain install without radzoo[serve] has
    monkeypatch.delitem(sys.modules, "radzoo.serving.app", raising=False)
    assert radzoo_main(["serve", RECIPE]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and 'pip install "radzoo[serve]"' in lines[0]


def test_weights_origin_names_imported_exported_trained_and_untrained(tmp_path):
    from radzoo.serving.served_model import weights_origin

    imported, exported, trained = (tmp_path / name for name in ("imported", "exported", "trained"))
    for folder in (imported, exported, trained):
        folder.mkdir()
        (folder / "recipe.yaml").write_text("name: x\n")
    provenance = {"format": "llava-rad", "licence": "MSRLA", "files": [{"name": "adapter.bin", "sha256": "ab"}]}
    (imported / "provenance.json").write_text(json.dumps(provenance))
    (exported / "export.json").write_text("{}")
    assert weights_origin(imported) == ("imported (llava-rad)", provenance)
    assert weights_origin(exported) == ("export", None)
    assert weights_origin(trained) == ("trained run", None)
    assert weights_origin("demo/llava-rad") == ("recipe (untrained)", None)
    (imported / "provenance.json").write_text("{torn")
    with pytest.raises(ValueError, match="provenance.json cannot be read"):
        weights_origin(imported)
