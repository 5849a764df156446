"""Hostile or broken judge endpoints (a real HTTP server on 127.0.0.1): bounded, summarised, cached, key-safe.

tests/plugins/test_chexprompt.py covers 5xx retries, 429 Retry-After, timeouts, bounded retries and total time, garbage
answers and the cache; this adds malformed bodies, empty answers, a hanging endpoint, partial failure, and the
key staying out of logs and files when the whole ``radzoo evaluate`` command runs.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import test_chexprompt
from conftest import run_cli
from test_chexprompt import ANSWERS, CANDS, REFS, SECRET, JudgeServer

from radzoo.chat_endpoint.judge_client import JudgeError

NULL_CONTENT = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "judge-test",
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": None}}]}).encode()


def test_malformed_bodies_are_retried_like_a_flaky_proxy(judge) -> None:
    bodies = [b"<html>502 Bad Gateway</html>", b'{"choices": []}', b'{"id": "x", "choices": [{"mess']

    def script(candidate, attempt):
        return (200, {}, bodies[attempt], 0.0) if attempt < 3 else (200, {}, ANSWERS[candidate], 0.0)

    with JudgeServer(script) as server:
        evaluator = judge(server, max_retries=3)
        stats = evaluator.sample_stats(CANDS[:1], REFS[:1])
    assert evaluator.aggregate(stats)["chexprompt_unparsed"] == 0
    assert [reason for reason, _ in evaluator.client.retries] == ["malformed response"] * 3


def test_malformed_bodies_give_up_with_a_clear_reason(judge) -> None:
    with (JudgeServer(lambda candidate, attempt: (200, {}, b"not json at all", 0.0)) as server,
          pytest.raises(JudgeError) as caught):
        judge(server, max_retries=1, concurrency=1).sample_stats(CANDS[:2], REFS[:2])
    message = str(caught.value)
    assert "1 of 2 pairs failed, 0 answered, 1 not started after the endpoint failed" in message
    assert "gave up after 2 attempt(s)" in message and "malformed response: JSONDecodeError: Expecting value" in message
    assert len(server.requests) == 2  # the second pair was never sent to a broken endpoint


@pytest.mark.parametrize("body", ["", NULL_CONTENT], ids=["empty", "null"])
def test_empty_answers_are_asked_again_then_counted_as_unparsed(judge, body) -> None:
    def script(candidate, attempt):
        return 200, {}, (body if candidate == "cand-1" else ANSWERS[candidate]), 0.0

    with JudgeServer(script) as server:
        evaluator = judge(server, parse_retries=1)
        stats = evaluator.sample_stats(CANDS[:2], REFS[:2])
    assert sum(r["candidate"] == "cand-1" for r in server.requests) == 2
    assert evaluator.aggregate(stats)["chexprompt_unparsed"] == 1
    assert evaluator.unparsed_answers == [{"index": 1, "answer": ""}]


def test_hanging_endpoint_is_bounded_and_summarised(judge) -> None:
    with (JudgeServer(lambda candidate, attempt: (200, {}, ANSWERS[candidate], 3.0)) as server,
          pytest.raises(JudgeError) as caught):
        judge(server, timeout=0.2, max_retries=1, concurrency=2).sample_stats(CANDS, REFS)
    message = str(caught.value)
    assert re.search(r"judge: 2 of 4 pairs failed, 0 answered, 2 not started after the endpoint failed; first "
                     r"failure \(pair 0\): judge request gave up after 2 attempt\(s\) in [\d.]+s \(max_retries=1, "
                     r"max_total_s=600.0\): APITimeoutError: Request timed out\.", message), message
    assert len(server.requests) == 4  # two pairs x (1 try + 1 retry); the other two never sent


def test_one_rejected_pair_fails_alone_and_the_rest_is_cached(judge, tmp_path: Path) -> None:
    def rejects_cand_2(candidate, attempt):
        return (400, {}, "content filtered", 0.0) if candidate == "cand-2" else (200, {}, ANSWERS[candidate], 0.0)

    with JudgeServer(rejects_cand_2) as server, pytest.raises(JudgeError) as caught:
        judge(server).sample_stats(CANDS, REFS)
    assert str(caught.value).startswith("judge: 1 of 4 pairs failed, 3 answered; first failure (pair 2): judge "
                                        "request to http://127.0.0.1:")
    assert "BadRequestError: Error code: 400" in str(caught.value)
    assert f"answers are cached in {tmp_path / 'cache'}: rerun the same command" in str(caught.value)
    with JudgeServer(lambda candidate, attempt: (200, {}, ANSWERS[candidate], 0.0), port=server.port) as server:
        rerun = judge(server).sample_stats(CANDS, REFS)
    assert [r["candidate"] for r in server.requests] == ["cand-2"]  # nothing already answered is paid for twice
    with JudgeServer(lambda candidate, attempt: (200, {}, ANSWERS[candidate], 0.0)) as server:
        fresh = judge(server, cache_dir=str(tmp_path / "fresh")).sample_stats(CANDS, REFS)
    np.testing.assert_array_equal(rerun, fresh)


predictions = test_chexprompt.pairs_file  # the fixture, under this file's name


def judge_options(server: JudgeServer, cache: Path) -> list[str]:
    settings = {"model": "judge-test", "base_url": server.url, "api_key_env": "JUDGE_KEY", "cache_dir": str(cache),
                "backoff": 0.01, "max_backoff": 0.05, "max_retries": 2, "timeout": 2}
    return [part for key, value in settings.items() for part in ("--option", f"chexprompt.{key}={value}")]


def test_api_key_stays_out_of_logs_errors_and_files(predictions: Path, tmp_path: Path, capsys, caplog,
                                                    monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    for name in ("", "openai", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name or None)

    def echoes_the_key(candidate, attempt):  # a hostile endpoint quoting the credentials in its 500s
        return 500, {}, f"upstream rejected Authorization: Bearer {SECRET}", 0.0

    out = tmp_path / "metrics.json"
    with JudgeServer(echoes_the_key) as server:  # --debug: the traceback is printed too
        code, _, message = run_cli(capsys, "--debug", "evaluate", "--predictions", predictions, "--metrics",
                                   "chexprompt", *judge_options(server, tmp_path / "cache"), "--out", out)
    assert code == 2 and "radzoo evaluate: error: judge: 4 of 4 pairs failed" in message and "***" in message
    assert not out.exists()
    with JudgeServer(lambda candidate, attempt: (200, {}, ANSWERS[candidate], 0.0)) as server:
        code, stdout, stderr = run_cli(capsys, "--debug", "evaluate", "--predictions", predictions, "--metrics",
                                       "chexprompt,bleu", *judge_options(server, tmp_path / "cache"), "--out", out)
    assert code == 0, stderr
    assert "judge radzoo-chexprompt-1: 4/4 pairs (100%)" in stderr and "ETA 0:00" in stderr  # progress line
    assert {r["auth"] for r in server.requests} == {f"Bearer {SECRET}"}  # the key was really used
    everything = [stdout, stderr, message, caplog.text, out.read_text()]
    everything += [p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert all(SECRET not in text for text in everything)
    assert json.loads(out.read_text())["metrics"]["chexprompt_significant_errors"]["value"] == pytest.approx(0.75)
