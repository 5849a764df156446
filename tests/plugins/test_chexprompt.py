"""CheXprompt judge against a real OpenAI-compatible HTTP server on 127.0.0.1 (scripted answers)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from radzoo.chat_endpoint.judge_client import JudgeClient, JudgeError
from radzoo.plugins.evaluators.chexprompt import CheXpromptEvaluator
from radzoo.plugins.evaluators.chexprompt_prompt import PROMPT_VERSION, parse_answer

SECRET = "sk-test-DO-NOT-LEAK-4242"
PINNED_PROMPT_HASH = "7a20d5e824f4fd5d"  # sha256 of the CheXprompt messages for ("REF", "CAND")


def answer(significant, insignificant, preamble=""):
    def line(counts):
        return "(" + ", ".join(f"({k}, {n})" for k, n in zip("ABCDEF", counts)) + ")"

    return (f"{preamble}Number of clinically significant errors by type: {line(significant)}\n"
            f"Number of clinically insignificant errors by type: {line(insignificant)}")


class JudgeServer:
    """POST /v1/chat/completions; ``script(candidate, attempt)`` -> (status, headers, text, delay_s).

    ``text`` as bytes is sent as the raw response body (a malformed answer); as str it is the judge's answer.
    ``port``: 0 for a free one; a restarted server passes the old one (the judge cache is keyed by host:port).
    """

    def __init__(self, script, port=0):
        self.script, self.requests, self.lock = script, [], threading.Lock()
        self.active = self.peak = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                user = body["messages"][-1]["content"]
                candidate = re.findall(r'Candidate findings: """(.*?)"""', user, re.S)[-1]
                with server.lock:
                    attempt = sum(1 for r in server.requests if r["candidate"] == candidate)
                    server.requests.append({"candidate": candidate, "user": user, "path": self.path,
                                            "auth": self.headers.get("Authorization"), "model": body["model"]})
                    server.active += 1
                    server.peak = max(server.peak, server.active)
                try:
                    status, headers, text, delay = server.script(candidate, attempt)
                    time.sleep(delay)
                    if status == 200:
                        payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": text}}]}
                    else:
                        payload = {"error": {"message": text, "type": "test"}}
                    data = text if isinstance(text, bytes) else json.dumps(payload).encode()
                    self.send_response(status)
                    for key, value in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass
                finally:
                    with server.lock:
                        server.active -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def ok(table, delay=0.0):
    """A script answering each candidate with its scripted counts."""
    return lambda candidate, attempt: (200, {}, table[candidate], delay)


@pytest.fixture
def judge(monkeypatch, tmp_path):
    monkeypatch.setenv("JUDGE_KEY", SECRET)

    def make(server, **options):
        settings = dict(model="judge-test", base_url=server.url, api_key_env="JUDGE_KEY",
                        cache_dir=str(tmp_path / "cache"), timeout=2.0, backoff=0.01, max_backoff=0.05,
                        concurrency=4)
        settings.update(options)
        return CheXpromptEvaluator(**settings)

    return make


REFS = ["Small left effusion.", "Normal chest.", "Right lower lobe pneumonia.", "Cardiomegaly."]
CANDS = ["cand-0", "cand-1", "cand-2", "cand-3"]
COUNTS = {"cand-0": ((0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0)), "cand-1": ((1, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0)),
          "cand-2": ((0, 1, 1, 0, 0, 0), (0, 0, 0, 0, 0, 2)), "cand-3": ((0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0))}
ANSWERS = {c: answer(*counts, preamble="Let me count.\n") for c, counts in COUNTS.items()}


@pytest.fixture
def pairs_file(tmp_path):
    """A predictions JSONL of the four (candidate, reference) pairs, for `radzoo evaluate`."""
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "prediction": c, "reference": r}) + "\n"
                            for i, (c, r) in enumerate(zip(CANDS, REFS))), encoding="utf-8")
    return path


def test_parser_accepts_the_exact_format_and_rejects_others():
    text = answer((1, 0, 2, 0, 0, 3), (0, 1, 0, 0, 4, 0))
    assert parse_answer(text) == {"significant": (1, 0, 2, 0, 0, 3), "insignificant": (0, 1, 0, 0, 4, 0)}
    square = text.replace("((", "[(").replace("))", ")]")
    assert parse_answer(square) == parse_answer(text)
    assert parse_answer(text.splitlines()[0]) is None  # insignificant line missing
    assert parse_answer(text.replace("(C, 2)", "(C, two)")) is None
    assert parse_answer(text.replace("(B, 0), (C, 2)", "(C, 2), (B, 0)")) is None  # order matters
    assert parse_answer("I cannot judge this.") is None


def test_metrics_from_scripted_answers(judge):
    with JudgeServer(ok(ANSWERS)) as server:
        evaluator = judge(server)
        stats = evaluator.sample_stats(CANDS, REFS)
    assert stats.shape == (4, 13) and evaluator.requests == 4
    metrics = evaluator.aggregate(stats)
    assert metrics["chexprompt_significant_errors"] == pytest.approx((0 + 1 + 2 + 0) / 4)
    assert metrics["chexprompt_insignificant_errors"] == pytest.approx((1 + 0 + 2 + 0) / 4)
    assert metrics["chexprompt_zero_significant_share"] == pytest.approx(0.5)
    assert metrics["chexprompt_significant_false_finding"] == pytest.approx(0.25)
    assert metrics["chexprompt_insignificant_omitted_comparison"] == pytest.approx(0.5)
    assert metrics["chexprompt_unparsed"] == 0
    assert evaluator.aggregate(stats, [2, 2])["chexprompt_significant_errors"] == pytest.approx(2.0)
    assert set(metrics) == set(evaluator.metric_names)
    assert {r["auth"] for r in server.requests} == {f"Bearer {SECRET}"}
    assert {r["path"] for r in server.requests} == {"/v1/chat/completions"}
    assert evaluator.options()["prompt_version"] == PROMPT_VERSION


def test_requests_run_concurrently_but_bounded(judge):
    cands = [f"c{i}" for i in range(8)]
    table = {c: answer((0,) * 6, (0,) * 6) for c in cands}
    with JudgeServer(ok(table, delay=0.3)) as server:
        judge(server, concurrency=3).sample_stats(cands, ["ref"] * 8)
    assert server.peak == 3


def test_server_errors_are_retried_then_succeed(judge):
    def script(candidate, attempt):
        if attempt < 2:
            return 500 if attempt == 0 else 503, {}, "overloaded", 0.0
        return 200, {}, ANSWERS[candidate], 0.0

    with JudgeServer(script) as server:
        evaluator = judge(server)
        stats = evaluator.sample_stats(CANDS[:2], REFS[:2])
    assert len(server.requests) == 6 and evaluator.aggregate(stats)["chexprompt_unparsed"] == 0
    assert [r for r, _ in evaluator.client.retries].count("InternalServerError") == 4


def test_rate_limit_honours_retry_after(monkeypatch):
    def script(candidate, attempt):
        return (429, {"Retry-After": "2"}, "slow down", 0.0) if attempt == 0 else (200, {}, ANSWERS[candidate], 0.0)

    monkeypatch.setenv("JUDGE_KEY", SECRET)
    waits = []
    with JudgeServer(script) as server:
        client = JudgeClient("judge-test", base_url=server.url, api_key_env="JUDGE_KEY", backoff=0.01,
                             max_backoff=30, sleep=waits.append)
        from radzoo.plugins.evaluators.chexprompt_prompt import judge_messages

        text = client.complete(judge_messages("ref", "cand-0"))
    assert parse_answer(text) is not None
    assert waits == [2.0]  # the server's hint, not the 0.01 s backoff
    assert client.retries[0][0] == "RateLimitError"


def test_timeout_is_retried(judge):
    def script(candidate, attempt):
        return 200, {}, ANSWERS[candidate], (1.0 if attempt == 0 else 0.0)

    with JudgeServer(script) as server:
        evaluator = judge(server, timeout=0.2)
        stats = evaluator.sample_stats(CANDS[:1], REFS[:1])
    assert evaluator.aggregate(stats)["chexprompt_significant_errors"] == 0
    assert [r for r, _ in evaluator.client.retries] == ["APITimeoutError"]


def test_retries_are_bounded(judge):
    with JudgeServer(lambda candidate, attempt: (502, {}, "bad gateway", 0.0)) as server:
        evaluator = judge(server, max_retries=2)
        with pytest.raises(JudgeError, match="gave up after 3 attempt"):
            evaluator.sample_stats(CANDS[:1], REFS[:1])
    assert len(server.requests) == 3


def test_garbage_answers_are_retried_then_counted_as_unparsed(judge):
    def script(candidate, attempt):
        return 200, {}, ("I think the report is fine." if candidate == "cand-1" else ANSWERS[candidate]), 0.0

    with JudgeServer(script) as server:
        evaluator = judge(server, parse_retries=2)
        stats = evaluator.sample_stats(CANDS, REFS)
    assert sum(r["candidate"] == "cand-1" for r in server.requests) == 3  # first try + 2 retries
    metrics = evaluator.aggregate(stats)
    assert metrics["chexprompt_unparsed"] == 1
    assert metrics["chexprompt_significant_errors"] == pytest.approx((0 + 2 + 0) / 3)  # over the parsed three
    assert np.isnan(evaluator.aggregate(stats, [1])["chexprompt_significant_errors"])
    assert evaluator.unparsed_answers == [{"index": 1, "answer": "I think the report is fine."}]


def test_rerun_is_served_from_cache_and_cache_holds_no_key(judge, tmp_path):
    with JudgeServer(ok(ANSWERS)) as server:
        first = judge(server).sample_stats(CANDS, REFS)
    assert len(server.requests) == 4
    with JudgeServer(ok(ANSWERS), port=server.port) as server:  # the same endpoint, restarted
        evaluator = judge(server)
        second = evaluator.sample_stats(CANDS, REFS)
    assert server.requests == [] and evaluator.requests == 0
    np.testing.assert_array_equal(first, second)
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 4 and not list((tmp_path / "cache").rglob("*.tmp"))
    for path in files:
        text = path.read_text()
        record = json.loads(text)
        assert SECRET not in text and record["prompt_version"] == PROMPT_VERSION and len(record["values"]) == 12
    with JudgeServer(ok(ANSWERS), port=server.port) as server:  # another judge model is another cache key
        judge(server, model="other-judge").sample_stats(CANDS[:1], REFS[:1])
    assert len(server.requests) == 1


def test_api_key_never_appears_in_errors(judge):
    def echo_auth(candidate, attempt):  # a hostile endpoint echoing the credentials back
        return 400, {}, f"bad request from {SECRET}", 0.0

    with JudgeServer(echo_auth) as server, pytest.raises(JudgeError) as caught:
        judge(server).sample_stats(CANDS[:1], REFS[:1])
    assert SECRET not in str(caught.value) and "***" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # nothing chained that quotes it


def test_missing_key_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("NO_SUCH_JUDGE_KEY", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_JUDGE_KEY"):
        CheXpromptEvaluator(model="m", base_url="http://127.0.0.1:9/v1", api_key_env="NO_SUCH_JUDGE_KEY",
                            cache_dir=str(tmp_path))


def test_registered_and_built_from_options(monkeypatch, tmp_path):
    from radzoo.evaluation.pipeline import create_evaluator

    monkeypatch.setenv("JUDGE_KEY", SECRET)
    evaluator = create_evaluator("chexprompt", {"model": "m", "base_url": "http://127.0.0.1:9/v1",
                                                "api_key_env": "JUDGE_KEY", "cache_dir": str(tmp_path)})
    assert evaluator.higher_is_better["chexprompt_zero_significant_share"]
    assert not evaluator.higher_is_better["chexprompt_significant_errors"]
    assert SECRET not in json.dumps(evaluator.options())


def test_through_radzoo_evaluate_with_bootstrap(monkeypatch, tmp_path):
    from radzoo.evaluation.pipeline import evaluate

    monkeypatch.setenv("JUDGE_KEY", SECRET)
    with JudgeServer(ok(ANSWERS)) as server:
        options = {"model": "judge-test", "base_url": server.url, "api_key_env": "JUDGE_KEY",
                   "cache_dir": str(tmp_path / "cache"), "concurrency": 2}
        result = evaluate(CANDS, REFS, metrics=["chexprompt"], options={"chexprompt": options}, bootstrap=50)
    metric = result["metrics"]["chexprompt_significant_errors"]
    assert metric["value"] == pytest.approx(0.75) and metric["higher_is_better"] is False
    assert metric["ci"][0] <= 0.75 <= metric["ci"][1]
    assert result["per_sample"]["chexprompt_significant_errors"] == [0.0, 1.0, 2.0, 0.0]
    assert SECRET not in json.dumps(result)


def test_chexprompt_prompt_text_is_pinned():
    """Changing the prompt changes the answers: bump PROMPT_VERSION (cache keys) and then this hash."""
    import hashlib

    from radzoo.plugins.evaluators.chexprompt_prompt import judge_messages

    text = json.dumps(judge_messages("REF", "CAND"))
    assert PROMPT_VERSION == "radzoo-chexprompt-1"
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == PINNED_PROMPT_HASH


def test_green_style_score_from_the_same_judge(judge, monkeypatch, tmp_path):
    from radzoo.plugins.evaluators.green_judge import GREEN_PROMPT_VERSION, GreenJudgeEvaluator

    matched = {"cand-0": 3, "cand-1": 1, "cand-2": 0, "cand-3": 2}
    table = {c: f"{ANSWERS[c]}\nNumber of matched findings: {matched[c]}" for c in CANDS}
    table["cand-3"] = ANSWERS["cand-3"]  # the matched line is missing: unparsed after retries
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    with JudgeServer(ok(table)) as server:
        evaluator = GreenJudgeEvaluator(model="judge-test", base_url=server.url, api_key_env="JUDGE_KEY",
                                        cache_dir=str(tmp_path / "green"), parse_retries=1)
        stats = evaluator.sample_stats(CANDS, REFS)
    assert all("Number of matched findings: n" in r["user"] for r in server.requests)
    metrics = evaluator.aggregate(stats)
    # cand-0: 3/(3+0); cand-1: 1/(1+1); cand-2: nothing matched -> 0
    assert metrics["green_score"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert metrics["green_matched_findings"] == pytest.approx(4 / 3)
    assert metrics["green_unparsed"] == 1 and sum(r["candidate"] == "cand-3" for r in server.requests) == 2
    assert evaluator.options()["prompt_version"] == GREEN_PROMPT_VERSION != PROMPT_VERSION


def test_total_time_is_bounded(monkeypatch):
    from radzoo.plugins.evaluators.chexprompt_prompt import judge_messages

    monkeypatch.setenv("JUDGE_KEY", SECRET)
    waits = []
    with JudgeServer(lambda candidate, attempt: (503, {}, "unavailable", 0.0)) as server:
        client = JudgeClient("judge-test", base_url=server.url, api_key_env="JUDGE_KEY", backoff=0.6,
                             max_retries=10, max_total_s=1.0, sleep=waits.append)
        with pytest.raises(JudgeError, match="gave up after 2 attempt"):
            client.complete(judge_messages("ref", "cand-0"))
    assert waits == [0.6]  # the next wait (1.2 s) would pass max_total_s, so it stops instead
    assert len(server.requests) == 2
