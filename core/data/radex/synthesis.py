"""``radzoo data radex``: llava-json instruction data from public case descriptions, through an LLM endpoint.

Per case (one JSONL line: ``id``, ``images`` relative to the file, one or more of ``text`` / ``findings`` /
``impression``, optional ``age`` / ``sex``): the case text is de-identified (deidentify.py) and looked at
again; a case with identifier-like text left is withheld (never sent) unless ``allow_unscrubbed``. The
answer is de-identified too before anything is stored, then filtered (quality.py). The judge's client (key
from an environment variable, bounded retries) and cache (one file per request, scrubbed answers only) are
reused, so a rerun sends nothing it has sent before. Writes DIR/data.json and DIR/summary.json.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radzoo.chat_endpoint.judge_cache import JudgeCache, endpoint_host, judge_key
from radzoo.chat_endpoint.judge_client import JudgeClient, JudgeError
from radzoo.data.radex.deidentify import age_text, identifiers_left, scrub
from radzoo.data.radex.prompts import PROMPT_VERSION, case_message, conversations, parse_answer
from radzoo.data.radex.quality import NearDuplicates, contradictions, length_problem
from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import write_json_atomic
from radzoo.files.cache import cache_root

CLIENT_KEYS = ("base_url", "api_key_env", "base_url_env", "api_version", "timeout", "connect_timeout",
               "max_retries", "backoff", "max_backoff", "max_total_s", "max_tokens", "temperature", "seed")
DEFAULTS: dict[str, Any] = {"allow_unscrubbed": False, "cache_dir": None, "min_words": 5, "max_words": 300,
                            "near_duplicate": 0.9, "max_tokens": 1024, "temperature": 0.0, "seed": 0}


@dataclass
class RadexResult:
    """What a synthesis run did: records kept, and the case ids dropped per reason."""

    records: list[dict[str, Any]] = field(default_factory=list)
    dropped: dict[str, list[str]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options with their defaults; a clear error naming an unknown one."""
    unknown = sorted(set(options) - set(DEFAULTS) - set(CLIENT_KEYS))
    if unknown:
        raise InputError(f"radex: unknown option(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(set(DEFAULTS) | set(CLIENT_KEYS)))}")
    merged = {**DEFAULTS, **options}
    merged["allow_unscrubbed"] = str(merged["allow_unscrubbed"]).lower() in ("true", "1", "yes")
    return merged


def read_cases(path: Path) -> list[tuple[int, dict[str, Any] | None]]:
    """(line number, case) per non-blank line; None for a line that is not a JSON object."""
    if not path.is_file():
        raise MissingFileError(f"radex: cases file {path} does not exist; give a JSONL file, one case per line")
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                case = json.loads(line)
            except ValueError:
                case = None
            cases.append((number, case if isinstance(case, dict) else None))
    return cases


def case_text(case: dict[str, Any]) -> str:
    """The text sent for a case (before scrubbing): age, sex, findings, impression, description."""
    parts = []
    age = age_text(case.get("age"))
    if age:
        parts.append(f"Age: {age}")
    if case.get("sex"):
        parts.append(f"Sex: {case['sex']}")
    for key, label in (("findings", "Findings"), ("impression", "Impression"), ("text", "Description")):
        if str(case.get(key) or "").strip():
            parts.append(f"{label}: {' '.join(str(case[key]).split())}")
    return "\n".join(parts)


def synthesise(cases_path: str | Path, out_dir: str | Path, model: str, options: dict[str, Any]) -> RadexResult:
    """Synthesise DIR/data.json from the cases (see the module doc); a JudgeError stops it, keeping the cache."""
    cases_path, out = Path(cases_path), Path(out_dir)
    opts = check_options(options)
    client = JudgeClient(model=model, **{k: opts[k] for k in CLIENT_KEYS if opts.get(k) is not None})
    cache = JudgeCache(opts["cache_dir"] or cache_root() / "radex")
    endpoint, version = endpoint_host(client.base_url), f"{PROMPT_VERSION}|t={client.temperature}|seed={client.seed}"
    result, duplicates = RadexResult(), NearDuplicates(float(opts["near_duplicate"]))
    scrubbed_in, scrubbed_out, leftovers = Counter(), Counter(), Counter()
    requests = cached = 0
    cases = read_cases(cases_path)

    def drop(reason: str, case_id: str) -> None:
        result.dropped.setdefault(reason, []).append(case_id)

    for number, case in cases:
        case_id = str(case.get("id")) if case and case.get("id") is not None else f"line {number}"
        if case is None:
            drop("malformed_case", case_id)
            continue
        raw = case_text(case)
        if not any(str(case.get(k) or "").strip() for k in ("text", "findings", "impression")):
            drop("missing_text", case_id)
            continue
        images = case.get("images") or []
        images = [images] if isinstance(images, str) else list(images)
        paths = [cases_path.parent / str(i) for i in images]
        if not paths or not all(p.is_file() for p in paths):
            drop("missing_image", case_id)
            continue
        text, counts = scrub(raw)
        scrubbed_in.update(counts)
        left = identifiers_left(text)
        if left and not opts["allow_unscrubbed"]:
            leftovers.update(left)
            drop("unscrubbed_input", case_id)  # withheld: never sent
            continue
        key = judge_key(endpoint, client.model, version, text, "")
        record = cache.get(key)
        if record is None:
            requests += 1
            try:
                answer = client.complete(case_message(text))
            except JudgeError as exc:
                if exc.stops_run:
                    raise
                drop("request_rejected", case_id)
                continue
            answer, counts = scrub(answer)  # nothing unscrubbed is stored, the cache included
            record = {"endpoint": endpoint, "model": client.model, "prompt_version": version, "answer": answer,
                      "scrubbed": dict(counts)}
            cache.put(key, record)
        else:
            cached += 1
        scrubbed_out.update(record.get("scrubbed") or {})
        answer = record["answer"]
        if identifiers_left(answer):
            drop("unscrubbed_output", case_id)
            continue
        data = parse_answer(answer)
        if data is None:
            drop("unparsed_answer", case_id)
            continue
        findings = " ".join(data["findings"].split())
        problem = length_problem(findings, int(opts["min_words"]), int(opts["max_words"]))
        if problem is None and contradictions(text, findings):
            problem = "labeler_contradiction"
        if problem is None and duplicates.seen(findings):
            problem = "near_duplicate"
        if problem:
            drop(problem, case_id)
            continue
        relative = [os.path.relpath(p, out) for p in paths]
        result.records.append({"id": case_id, "image": relative[0], "images": relative, "split": "train",
                               "source": "radex", "conversations": conversations(data)})
    result.summary = {
        "cases_read": len(cases), "records_kept": len(result.records),
        "dropped": {reason: len(ids) for reason, ids in sorted(result.dropped.items())},
        "dropped_cases": dict(sorted(result.dropped.items())), "requests": requests, "cached_answers": cached,
        "tokens": dict(client.tokens), "endpoint": client.describe(), "prompt_version": PROMPT_VERSION,
        "scrubbing": {"replaced_in_cases": dict(scrubbed_in), "replaced_in_answers": dict(scrubbed_out),
                      "withheld_cases": len(result.dropped.get("unscrubbed_input", [])),
                      "identifier_kinds_left": dict(leftovers), "allow_unscrubbed": opts["allow_unscrubbed"]}}
    write_json_atomic(out / "data.json", result.records, indent=1)
    write_json_atomic(out / "summary.json", result.summary, indent=1)
    return result
