"""`radzoo generate` and `radzoo evaluate` (with the LLM judge) as real processes, stopped by Ctrl-C and kill -9.

Finished items survive and are not recomputed, outputs are whole files, and the final result equals an
uninterrupted run. (tests/generation/test_generate.py kills the generate library call with -9; here the command
is stopped.)
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from conftest import SHORT_GENERATION, radzoo_process, run_cli, stop, wait_for
from test_chexprompt import ANSWERS, SECRET, JudgeServer, answer

from radzoo.files.jsonl import read_records

pytestmark = pytest.mark.slow  # kills and resumes child processes


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_ctrl_c_stops_generate_cleanly_and_the_rerun_finishes_it(tiny_set: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "preds.jsonl"
    command = ["generate", "demo/llava-rad", *SHORT_GENERATION, "--data", tiny_set, "--split", "all",
               "--batch-size", "2"]
    child = radzoo_process([*command, "--out", out], tmp_path / "gen.log",
                           slow=("radzoo.files.jsonl:JsonlWriter.write_batch", 0.5))
    wait_for(lambda: lines_in(out) >= 4, child, tmp_path / "gen.log")
    assert stop(child, signal.SIGINT) == 130
    log = (tmp_path / "gen.log").read_text()
    assert "radzoo: interrupted; finished work is saved, rerun the same command to resume" in log
    assert "Traceback" not in log
    assert "generate preds.jsonl: 2/12 studies (17%)" in log and ", ETA " in log  # progress with an ETA
    done = read_records(out)  # whole lines only
    assert 4 <= len(done) < 12 and out.read_bytes().endswith(b"\n")

    code, stdout, _ = run_cli(capsys, *command, "--out", out)
    left = 12 - len(done)
    assert code == 0 and f"{left} report{'s' if left != 1 else ''} generated, {len(done)} already present" in stdout
    assert run_cli(capsys, *command, "--out", tmp_path / "whole.jsonl")[0] == 0
    assert read_records(out) == read_records(tmp_path / "whole.jsonl")


def test_kill_9_during_judge_evaluation_keeps_every_paid_answer(tmp_path: Path, capsys, monkeypatch) -> None:
    cands = [f"cand-{i}" for i in range(8)]
    table = {**ANSWERS, **{c: answer((i % 2, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, i % 3)) for i, c in enumerate(cands)
                           if c not in ANSWERS}}
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text("".join(json.dumps({"id": c, "prediction": c, "reference": f"reference {c}"}) + "\n"
                                   for c in cands), encoding="utf-8")
    cache, out = tmp_path / "cache", tmp_path / "metrics.json"

    def command(server: JudgeServer, cache_dir: Path, metrics: Path) -> list[str]:
        options = {"model": "judge-test", "base_url": server.url, "api_key_env": "JUDGE_KEY",
                   "cache_dir": cache_dir, "concurrency": 1}
        return ["evaluate", "--predictions", predictions, "--metrics", "chexprompt,bleu", "--out", metrics,
                *[part for key, value in options.items() for part in ("--option", f"chexprompt.{key}={value}")]]

    monkeypatch.setenv("JUDGE_KEY", SECRET)
    with JudgeServer(lambda candidate, attempt: (200, {}, table[candidate], 0.4)) as server:
        child = radzoo_process(command(server, cache, out), tmp_path / "eval.log")
        wait_for(lambda: len(list(cache.rglob("*.json"))) >= 3, child, tmp_path / "eval.log")
        assert stop(child, signal.SIGKILL) == -signal.SIGKILL
        paid = {r["candidate"] for r in server.requests}
    cached = list(cache.rglob("*.json"))
    assert 3 <= len(cached) < 8 and not out.exists()  # no half-written metrics file
    assert all(json.loads(p.read_text())["values"] for p in cached)  # every cached answer is whole

    with JudgeServer(lambda candidate, attempt: (200, {}, table[candidate], 0.0), port=server.port) as server:
        assert run_cli(capsys, *command(server, cache, out))[0] == 0
        asked_again = [r["candidate"] for r in server.requests]
    assert len(asked_again) == 8 - len(cached) and not set(asked_again) & (paid - set(asked_again))
    with JudgeServer(lambda candidate, attempt: (200, {}, table[candidate], 0.0)) as server:
        assert run_cli(capsys, *command(server, tmp_path / "fresh", tmp_path / "whole.json"))[0] == 0
    resumed, whole = json.loads(out.read_text()), json.loads((tmp_path / "whole.json").read_text())
    assert resumed["per_sample"] == whole["per_sample"]
    # (the options differ: each run's server had its own port in base_url)
    assert {k: (m["value"], m["ci"]) for k, m in resumed["metrics"].items()} == \
        {k: (m["value"], m["ci"]) for k, m in whole["metrics"].items()}
    assert SECRET not in out.read_text() + (tmp_path / "eval.log").read_text()
