"""`radzoo serve` shutting down (SIGTERM with streams in flight), keeping its key out of the logs, naming its
extra when FastAPI is missing, and saying where the served weights came from."""

from __future__ import annotations

import json
import secrets
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from serve_process import KEY, RECIPE, ServerProcess, ask, raw_request, write_cases

from radzoo.cli import main as radzoo_main


@pytest.mark.slow
def test_sigterm_finishes_streams_in_flight_and_the_key_is_never_logged(tmp_path):
    cases = write_cases(tmp_path, generate=False)
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


def test_origin_names_imported_exported_trained_and_untrained_in_one_vocabulary(tmp_path):
    from radzoo.runs.layout import origin_of

    imported, exported, trained = (tmp_path / name for name in ("imported", "exported", "trained"))
    for folder in (imported, exported, trained):
        folder.mkdir()
        (folder / "recipe.yaml").write_text("name: x\n")
    provenance = {"format": "llava-rad", "licence": "MSRLA", "files": [{"name": "adapter.bin", "sha256": "ab"}]}
    (imported / "provenance.json").write_text(json.dumps(provenance))
    (exported / "export.json").write_text(json.dumps({"source_run": "/runs/a"}))
    found = {name: origin_of(path) for name, path in
             {"imported": imported, "exported": exported, "trained": trained, "recipe": "demo/llava-rad"}.items()}
    assert {name: (o.kind, o.text, o.provenance) for name, o in found.items()} == {
        "imported": ("import", "imported llava-rad", provenance), "exported": ("export", "exported from /runs/a", None),
        "trained": ("run", f"trained run {trained}", None), "recipe": ("recipe", "recipe (untrained)", None)}
    (imported / "provenance.json").write_text("{torn")
    with pytest.raises(ValueError, match="provenance.json cannot be read"):
        origin_of(imported)
