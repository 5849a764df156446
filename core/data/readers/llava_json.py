"""``llava-json``: LLaVA / LLaVA-Rad conversation JSON — a list of {id, image, conversations: [human
"<image>\\n...", gpt answer]}; LLaVA-Rad's ``reason`` (indication) and ``chexpert_labels`` are used when
present. The first gpt turn is the report; a record with more exchanges keeps the later ones as question-answer
pairs (``meta["qa"]``, the ``vqa`` task's questions). ``image`` may be a list: the first is the frontal image,
the others "other" unless the record's ``views`` list names each (frontal, lateral, other)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from radzoo.data.readers import Source
from radzoo.data.readers.result import SkipLog
from radzoo.data.readers.tables import labels_and_truth, load_json
from radzoo.data.study import VIEWS, Study, StudyImage
from radzoo.errors import InputError

OPTIONS = {
    "default_split": "train",  # records without a "split" key
}
# LLaVA-Rad's prompt carries the indication when the record has no "reason" key
INDICATION_IN_PROMPT = re.compile(r"given the following indication:\s*(.+)", re.IGNORECASE | re.DOTALL)


def read(source: Source, log: SkipLog) -> Iterator[Study]:
    """One study per record with an image."""
    records = load_json(source.path)
    if isinstance(records, dict) and isinstance(records.get("data"), list):
        records = records["data"]
    if not isinstance(records, list):
        raise InputError(f"{source.path}: expected a JSON list of LLaVA records, got {type(records).__name__}")
    for index, record in enumerate(records):
        where = f"{source.path.name} record {index}"
        if not isinstance(record, dict):
            log.problem("malformed_record", where, f"expected an object, got {type(record).__name__}")
            continue
        study_id = str(record.get("id", f"record{index}"))
        where = f"{where} (id {study_id})"
        image = record.get("image")
        paths = [str(p) for p in image if p] if isinstance(image, list) else []
        if isinstance(image, list):
            image = paths[0] if paths else None
        if not image:
            log.problem("missing_image_path", where, "no 'image' key")
            continue
        question, answer = _first_exchange(record.get("conversations"))
        if answer is None:
            log.problem("missing_answer", where, "no gpt turn in 'conversations'")
            continue
        indication = record.get("reason") or record.get("indication")
        if not indication and question:
            found = INDICATION_IN_PROMPT.search(question)
            indication = found.group(1).strip() if found else None
        labels, truth = labels_and_truth(record.get("chexpert_labels") or record.get("labels"), where)
        truth = truth or dict(record.get("truth") or {})
        meta: dict[str, Any] = {"question": question, "source": f"{source.path.name} record {index}"}
        if truth:
            meta["truth"] = truth
        if len(turns := _exchanges(record.get("conversations"))) > 1:
            meta["qa"] = turns[1:]
        yield Study(id=study_id, image=str(source.resolve(image)), report=answer.strip(),
                    indication=(str(indication).strip() or None) if indication else None,
                    split=record.get("split") or source.options["default_split"], labels=labels, meta=meta,
                    images=_images(source, paths, record.get("views"), where))


def _images(source: Source, paths: list[str], views: Any, where: str) -> list[StudyImage]:
    """A record's image list with views: its ``views`` list when given, else the first frontal, the rest other."""
    if len(paths) < 2:
        return []
    if views is None:
        views = ["frontal"] + ["other"] * (len(paths) - 1)
    if not isinstance(views, list) or len(views) != len(paths) or any(v not in VIEWS for v in views):
        raise InputError(f"{where}: 'views' must list one of {', '.join(VIEWS)} per image ({len(paths)} images)")
    return [StudyImage(str(source.resolve(p)), v) for p, v in zip(paths, views, strict=True)]


def _exchanges(conversations: Any) -> list[tuple[str, str]]:
    """Every (human turn, gpt answer) pair in order."""
    pairs, question = [], None
    for turn in conversations if isinstance(conversations, list) else []:
        speaker = str(turn.get("from", "")).lower() if isinstance(turn, dict) else ""
        if speaker in ("human", "user"):
            question = str(turn.get("value", ""))
        elif speaker in ("gpt", "assistant") and question is not None:
            pairs.append((question, str(turn.get("value", ""))))
            question = None
    return pairs


def _first_exchange(conversations: Any) -> tuple[str | None, str | None]:
    """The first human turn and the gpt turn after it."""
    if not isinstance(conversations, list):
        return None, None
    question = None
    for turn in conversations:
        if not isinstance(turn, dict):
            continue
        speaker = str(turn.get("from", "")).lower()
        if speaker in ("human", "user") and question is None:
            question = str(turn.get("value", ""))
        elif speaker in ("gpt", "assistant"):
            return question, str(turn.get("value", ""))
    return question, None
