"""`radzoo serve` as a real subprocess on a loopback port, driven by the real `openai` client: reports equal
`radzoo generate`'s (one by one, under concurrency, streamed), bad input is refused and the server keeps serving."""

from __future__ import annotations

import http.client
import io
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openai
import pydicom
import pytest
from serve_process import (
    KEY,
    MAX_BYTES,
    MAX_PIXELS,
    MODEL,
    TOKENS,
    Case,
    ServerProcess,
    ask,
    data_url,
    png_bytes,
    raw_request,
    user_message,
    write_cases,
)
from test_data_images import write_dicom

pytestmark = pytest.mark.slow  # starts a server process


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[Case]:
    return write_cases(tmp_path_factory.mktemp("serve_images"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = ServerProcess(tmp_path_factory.mktemp("serve") / "server.log", "--max-batch-size", "4",
                           "--max-wait-ms", "100", "--max-image-bytes", str(MAX_BYTES),
                           "--max-image-pixels", str(MAX_PIXELS))
    yield served
    served.stop()


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


def test_smaller_max_tokens_in_one_batch_give_prefixes_of_the_report(server, cases):
    client = server.client()
    case = cases[5]
    budgets = [3, 7, 11, None]
    with ThreadPoolExecutor(max_workers=len(budgets)) as pool:
        answers = list(pool.map(lambda n: ask(client, case, **({"max_tokens": n} if n else {})), budgets))
    assert answers[-1].choices[0].message.content == case.expected
    for budget, answer in zip(budgets[:-1], answers[:-1], strict=True):
        text = answer.choices[0].message.content
        assert answer.usage.completion_tokens <= budget
        assert answer.choices[0].finish_reason == "length" or text == case.expected
        # a cut can end inside a multi-byte character, which decodes as U+FFFD
        assert case.expected.startswith(text.rstrip("\ufffd").rstrip()), (budget, text)
    lengths = [len(a.choices[0].message.content) for a in answers]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]


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
