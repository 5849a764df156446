"""Judge set-up: a missing model is one line, the cache lives under $RADZOO_CACHE/judge and is keyed by the
endpoint's host, `radzoo evaluate` says how many answers the cache gave, an unreachable endpoint says so early."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
import test_chexprompt
from test_chexprompt import ANSWERS, CANDS, REFS, SECRET, JudgeServer, ok

from radzoo.chat_endpoint.judge_cache import endpoint_host
from radzoo.chat_endpoint.judge_client import JudgeError
from radzoo.cli import main
from radzoo.plugins.evaluators.chexprompt import CheXpromptEvaluator

judge = test_chexprompt.judge  # fixtures: the CheXprompt evaluator on a local server, the pairs as a JSONL


predictions = test_chexprompt.pairs_file


def evaluate_cli(capsys, predictions: Path, out: Path, **options: object) -> tuple[int, str]:
    args = [part for key, value in options.items() for part in ("--option", f"chexprompt.{key}={value}")]
    code = main(["evaluate", "--predictions", str(predictions), "--metrics", "chexprompt", *args, "--bootstrap", "0",
                 "--out", str(out)])
    return code, capsys.readouterr().err


def test_missing_model_is_one_clear_line(predictions, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    code, err = evaluate_cli(capsys, predictions, tmp_path / "m.json", api_key_env="JUDGE_KEY")
    lines = [line for line in err.splitlines() if line.startswith("radzoo evaluate: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert "chexprompt: no judge model given; pass --option chexprompt.model=NAME" in lines[0]
    assert "positional argument" not in err
    with pytest.raises(ValueError, match="green_judge: no judge model given"):
        from radzoo.plugins.evaluators.green_judge import GreenJudgeEvaluator

        GreenJudgeEvaluator(api_key_env="JUDGE_KEY")


def test_cache_defaults_to_radzoo_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    monkeypatch.setenv("RADZOO_CACHE", str(tmp_path / "radzoo-cache"))
    with JudgeServer(ok(ANSWERS)) as server:
        evaluator = CheXpromptEvaluator(model="judge-test", base_url=server.url, api_key_env="JUDGE_KEY")
        evaluator.sample_stats(CANDS, REFS)
    assert evaluator.runner.cache.directory == tmp_path / "radzoo-cache" / "judge"
    assert len(list((tmp_path / "radzoo-cache" / "judge").rglob("*.json"))) == 4


def test_cache_key_includes_the_endpoint_host(judge, tmp_path):
    with JudgeServer(ok(ANSWERS)) as first, JudgeServer(ok(ANSWERS)) as second:
        judge(first).sample_stats(CANDS, REFS)
        other = judge(second)  # same model name, same cache directory, another server
        other.sample_stats(CANDS, REFS)
        again = judge(first)
        again.sample_stats(CANDS, REFS)
    assert len(first.requests) == 4 and len(second.requests) == 4  # the second server was asked, not the cache
    assert again.requests == 0 and again.runner.cached_answers == 4
    records = [json.loads(p.read_text()) for p in (tmp_path / "cache").rglob("*.json")]
    assert sorted({r["endpoint"] for r in records}) == sorted({endpoint_host(first.url), endpoint_host(second.url)})
    assert endpoint_host("https://Judge.Example.org:8443/v1") == "judge.example.org:8443"
    assert endpoint_host(None) == "api.openai.com"


def test_evaluate_says_how_many_answers_came_from_the_cache(predictions, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    options = {"model": "judge-test", "api_key_env": "JUDGE_KEY", "cache_dir": tmp_path / "cache"}
    with JudgeServer(ok(ANSWERS)) as server:
        code, err = evaluate_cli(capsys, predictions, tmp_path / "a.json", base_url=server.url, **options)
        assert code == 0, err
        assert "0 of 4 answers from the cache" in err and "4 judge call(s)" in err
        code, err = evaluate_cli(capsys, predictions, tmp_path / "b.json", base_url=server.url, **options)
    assert code == 0, err
    assert "4 of 4 answers from the cache" in err and "0 judge call(s)" in err and len(server.requests) == 4


def test_unreachable_endpoint_says_so_at_once_and_is_bounded(judge, caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Closed:
        url = f"http://127.0.0.1:{port}/v1"

    caplog.set_level(logging.WARNING, logger="radzoo.judge")
    evaluator = judge(Closed, max_retries=2, connect_timeout=1, concurrency=2)
    with pytest.raises(JudgeError, match="gave up after 3 attempt"):
        evaluator.sample_stats(CANDS, REFS)
    warnings = [r.getMessage() for r in caplog.records if "cannot reach" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"cannot reach http://127.0.0.1:{port}/v1" in warnings[0] and "max_retries=0" in warnings[0]
    assert evaluator.client.retry_budget_s() == pytest.approx(0.01 + 0.02)
