"""radzoo data radex against a local fake OpenAI-compatible endpoint that records every request.

12 cases carry planted identifiers of every kind; none may reach a request or the output, the API key is
written nowhere, a rerun sends nothing new, and dropped cases are counted by reason with exit status 1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from radzoo.data.radex.deidentify import identifiers_left, scrub
from radzoo.data.readers import read_studies
from radzoo.data.tasks import task_examples

KEY = "sk-radex-test-9f8e7d6c5b4a"
# what the hostile endpoint adds to every answer: it must be scrubbed before anything is stored
INJECTED = ("Gregory House", "Springfield General Hospital", "02/03/2019", "gh@springfield.org")
CLEAN = "Mild cardiomegaly. Small left pleural effusion. No pneumothorax."
# (planted identifiers, case text around them): every kind the issue names
PLANTED = [
    (["John Smith"], "Patient John Smith presented with dyspnea."),
    (["Jane Doe"], "Read by Dr. Jane Doe."),
    (["March 3, 2021", "03/04/2021", "2021-03-05", "5th of May 2020"],
     "Imaged March 3, 2021, again 03/04/2021, 2021-03-05 and 5th of May 2020."),
    (["4829104"], "MRN: 4829104."),
    (["A99812"], "Accession number A99812."),
    (["617-555-0123", "(555) 123-4567"], "Call 617-555-0123 or (555) 123-4567."),
    (["john.smith@example.com"], "Contact john.smith@example.com for images."),
    (["42 Maple Street"], "Lives at 42 Maple Street, Boston."),
    (["Massachusetts General Hospital", "St. Mary's Hospital"],
     "Transferred from St. Mary's Hospital to Massachusetts General Hospital."),
    (["123-45-6789"], "SSN 123-45-6789 on file."),
    (["93-year-old", "aged 93"], "A 93-year-old woman, aged 93, with cough."),
    (["12 34 56 78"], "Reference 12 34 56 78 in the archive."),  # no rule takes it: withheld, never sent
]


class RecordingEndpoint:
    """A chat-completions endpoint on 127.0.0.1 that records every request and answers from the case text."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.requests.append({"path": self.path, "body": raw, "headers": dict(self.headers)})
                case = json.loads(raw)["messages"][-1]["content"]
                findings = re.search(r"Findings: (.*)", case).group(1)
                if "contradict" in case:
                    findings = "Large right pneumothorax. Mild cardiomegaly."
                if "duplicate" in case:  # the same answer for two cases: the second is a near-duplicate
                    findings = "Mild cardiomegaly. Small left pleural effusion. No pneumothorax or edema."
                findings += (f" Compared with {INJECTED[2]} at {INJECTED[1]}, read by Dr. {INJECTED[0]} "
                             f"({INJECTED[3]}).")
                answer = {"findings": findings, "impression": "Cardiomegaly with a small left effusion.",
                          "closed": [{"question": "Is there a pleural effusion?", "answer": "yes"}],
                          "open": [{"question": "Which side is the effusion on?", "answer": "The left."}],
                          "reasoning": {"question": "Why cardiomegaly?", "answer": "The heart is wide."}}
                body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                       "role": "assistant", "content": "```json\n" + json.dumps(answer) + "\n```"}}],
                                   "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> RecordingEndpoint:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_cases(folder: Path) -> Path:
    (folder / "images").mkdir(parents=True)
    lines = []
    for i, (_, text) in enumerate(PLANTED):
        (folder / "images" / f"c{i}.png").write_bytes(b"\x89PNG fake")
        case = {"id": f"case{i}", "images": [f"images/c{i}.png"], "findings": f"{CLEAN} {text}", "sex": "F"}
        if i == 10:
            case["age"] = 93
        if i == 3:  # the endpoint answers this one with a pneumothorax the case rules out
            case["text"] = "contradict"
        if i in (4, 5):  # the endpoint gives both the same findings: case 5's is a near-duplicate
            case["text"] = "duplicate"
        lines.append(json.dumps(case))
    (folder / "images" / "missing").mkdir()
    path = folder / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_scrub_rules_and_second_look() -> None:
    for identifiers, text in PLANTED[:-1]:
        scrubbed, counts = scrub(text)
        assert counts and not any(i in scrubbed for i in identifiers), (text, scrubbed)
        assert not identifiers_left(scrubbed), scrubbed
    assert scrub("A 93-year-old man.")[0] == "A over 89-year-old man."
    assert identifiers_left(scrub(PLANTED[-1][1])[0]) == ["number"]
    assert scrub(CLEAN) == (CLEAN, {}) and not identifiers_left("Nodule 1.5 x 2.3 cm, 2-3 mm apart at T10.")


@pytest.mark.slow
def test_no_planted_identifier_reaches_a_request_or_the_output(tmp_path: Path) -> None:
    cases, out, cache = write_cases(tmp_path / "in"), tmp_path / "out", tmp_path / "cache"
    env = {**os.environ, "OPENAI_API_KEY": KEY, "RADZOO_CACHE": str(cache)}
    with RecordingEndpoint() as endpoint:
        env["OPENAI_BASE_URL"] = endpoint.url
        command = [sys.executable, "-m", "radzoo.cli", "data", "radex", str(cases), "--out", str(out),
                   "--model", "fake-gpt", "--option", "radex.max_retries=0"]
        first = subprocess.run(command, env=env, capture_output=True, text=True)
        sent = len(endpoint.requests)
        second = subprocess.run(command, env=env, capture_output=True, text=True)
        assert len(endpoint.requests) == sent  # the rerun is answered from the cache
    assert first.returncode == 1, first.stderr
    assert "dropped (unscrubbed_input): 1: case11" in first.stderr
    assert "dropped (labeler_contradiction): 1: case3" in first.stderr
    assert "dropped (near_duplicate): 1: case5" in first.stderr
    assert sent == 11 and second.returncode == 1
    requests = "\n".join(r["body"] for r in endpoint.requests)
    assert "Age: over 89" in requests and "[NAME]" in requests and "Mild cardiomegaly" in requests
    outputs = {p: p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".png"}
    for identifiers, _ in PLANTED:
        for identifier in identifiers:
            assert identifier not in requests, identifier
            for path, text in outputs.items():
                if path != cases:
                    assert identifier not in text, (identifier, path)
    for path, text in outputs.items():
        assert KEY not in text, path  # the key is written nowhere, the cache included
        if path != cases:
            assert not any(i in text for i in INJECTED), path
    records = json.loads((out / "data.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert len(records) == 9 and summary["records_kept"] == 9 and summary["cases_read"] == 12
    assert summary["dropped"] == {"labeler_contradiction": 1, "near_duplicate": 1, "unscrubbed_input": 1}
    assert summary["tokens"] == {"prompt": 0, "completion": 0}  # the second run's: all from the cache
    assert summary["scrubbing"]["withheld_cases"] == 1 and summary["scrubbing"]["replaced_in_answers"]["name"] >= 9
    first_record = records[0]
    assert [t["from"] for t in first_record["conversations"]][:2] == ["human", "gpt"]
    assert first_record["conversations"][2]["value"].startswith("Write a impression summary")
    assert (out / first_record["image"]).resolve() == (cases.parent / "images" / "c0.png").resolve()
    # the output trains every task through the llava-json reader
    studies = read_studies({"format": "llava-json", "path": str(out / "data.json")}).studies
    assert len(studies) == 9 and studies[0].report.startswith("Mild cardiomegaly")
    assert task_examples(studies[0], "impression")[0].answer == "Cardiomegaly with a small left effusion."
    assert [(e.question, e.kind) for e in task_examples(studies[0], "vqa")] == [
        ("Is there a pleural effusion?", "closed"), ("Which side is the effusion on?", "open"),
        ("Why cardiomegaly?", "open")]
