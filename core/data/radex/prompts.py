"""The RADEX-style synthesis prompt, and what radzoo makes of the answer (llava-json conversation turns).

One request per case asks for a JSON object: a findings report, an impression, closed (yes / no / uncertain)
and open questions with answers, and a short reasoning question. The prompt is fixed text (its version is
part of the cache key), so a rerun asks exactly what was asked before.
"""

from __future__ import annotations

import json
import re
from typing import Any

from radzoo.data.tasks import IMPRESSION_PROMPT

PROMPT_VERSION = "radex-1"
FINDINGS_PROMPT = "<image>\nWrite a findings report of this image:"  # SLaVA-CXR's (iuxray_sample_findings.jsonl)
SYSTEM = (
    "You are a radiologist writing training data for a chest X-ray assistant. You are given a de-identified "
    "public teaching case (text only; placeholders such as [NAME] or [DATE] stand for removed details). Write "
    "what a radiologist would say about the case's chest radiograph, using only facts the case states. Never "
    "invent or repeat names, dates, ages over 89, places or identifiers. Answer with one JSON object and "
    "nothing else, with these keys: \"findings\" (a findings section, 2-8 sentences), \"impression\" (1-2 "
    "sentences), \"closed\" (a list of 2-4 objects {\"question\": \"Is there ...?\", \"answer\": \"yes\" | "
    "\"no\" | \"uncertain\"}), \"open\" (a list of 1-2 objects {\"question\", \"answer\"} about location, size or "
    "severity), \"reasoning\" (one object {\"question\", \"answer\"} whose answer explains in 1-3 sentences which "
    "image features support the impression).")


def case_message(text: str) -> list[dict[str, str]]:
    """The chat messages for one scrubbed case text."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Case:\n{text}"}]


def parse_answer(answer: str) -> dict[str, Any] | None:
    """The answer's JSON object with the keys radzoo needs (None when it has none): fenced or bare JSON."""
    match = re.search(r"\{.*\}", answer, re.DOTALL)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), str) or not data["findings"].strip():
        return None
    return data


def qa_items(data: dict[str, Any], key: str) -> list[tuple[str, str]]:
    """(question, answer) pairs under ``key`` (a list of objects, or one object); malformed entries skipped."""
    items = data.get(key) or []
    items = [items] if isinstance(items, dict) else items
    return [(str(i["question"]).strip(), str(i["answer"]).strip()) for i in items if isinstance(i, dict)
            and str(i.get("question") or "").strip() and str(i.get("answer") or "").strip()]


def conversations(data: dict[str, Any]) -> list[dict[str, str]]:
    """The llava-json turns of one case: findings first (the reader's report), then impression and questions."""
    findings = " ".join(data["findings"].split())
    turns = [(FINDINGS_PROMPT, findings)]
    impression = " ".join(str(data.get("impression") or "").split())
    if impression:
        turns.append((IMPRESSION_PROMPT.format(findings=findings), impression))
    turns += qa_items(data, "closed") + qa_items(data, "open") + qa_items(data, "reasoning")
    return [{"from": who, "value": text} for question, answer in turns
            for who, text in (("human", question), ("gpt", answer))]
