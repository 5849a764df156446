"""Question-answer pairs about a study, from its CheXpert labels (documented templates) or its llava-json turns.

Templates (README "Tasks"):
- closed, one per observation the study has a label for (No Finding aside), in CheXpert order:
  ``Is there {phrase}?`` -> ``yes`` (label 1), ``no`` (0) or ``uncertain`` (-1);
- open, one per labelled study: ``Which findings are present?`` -> the positive and uncertain observations as
  a sentence ("Cardiomegaly and possible atelectasis."), or ``No finding.``.
A study read from llava-json with more than one exchange brings its own turns instead (``meta["qa"]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.study import Study

OPEN_QUESTION = "Which findings are present?"
CLOSED_TEMPLATE = "Is there {phrase}?"
ANSWERS = {1.0: "yes", 0.0: "no", -1.0: "uncertain"}
# observation -> its noun phrase in questions and open answers (each one the rule labeler finds)
PHRASES = {
    "Enlarged Cardiomediastinum": "an enlarged cardiomediastinum", "Cardiomegaly": "cardiomegaly",
    "Lung Opacity": "a lung opacity", "Lung Lesion": "a lung lesion", "Edema": "pulmonary edema",
    "Consolidation": "a consolidation", "Pneumonia": "pneumonia", "Atelectasis": "atelectasis",
    "Pneumothorax": "a pneumothorax", "Pleural Effusion": "a pleural effusion",
    "Pleural Other": "pleural thickening", "Fracture": "a fracture", "Support Devices": "a support device",
}
IMPRESSION_MARK = "##Impression:"  # ends SLaVA-CXR's impression prompt (radzoo.data.tasks)
QUESTION_FINDING = {CLOSED_TEMPLATE.format(phrase=p).lower(): obs for obs, p in PHRASES.items()}


@dataclass(frozen=True)
class QAPair:
    """One question with its reference answer; ``kind`` closed (yes/no/uncertain) or open; the finding asked."""

    question: str
    answer: str
    kind: str
    finding: str | None = None


def closed_answer(text: str) -> str | None:
    """yes / no / uncertain from the start of an answer ("Yes, ..." -> yes); None when it is none of them."""
    words = re.findall(r"[a-z]+", text.lower())[:1]
    if not words:
        return None
    word = words[0]
    return {"yes": "yes", "no": "no", "uncertain": "uncertain", "possibly": "uncertain",
            "maybe": "uncertain", "possible": "uncertain"}.get(word)


def question_finding(question: str) -> str | None:
    """The observation a closed template question asks about (None for any other question)."""
    return QUESTION_FINDING.get(" ".join(question.replace("<image>", " ").split()).lower())


def label_questions(study: Study) -> list[QAPair]:
    """The templated closed questions (one per labelled observation) and the open question."""
    known = [(obs, study.labels[obs]) for obs in CHEXPERT_OBSERVATIONS
             if obs in PHRASES and study.labels.get(obs) in ANSWERS]
    if not known:
        return []
    pairs = [QAPair(CLOSED_TEMPLATE.format(phrase=PHRASES[obs]), ANSWERS[value], "closed", obs)
             for obs, value in known]
    return [*pairs, QAPair(OPEN_QUESTION, open_answer(study.labels), "open")]


def open_answer(labels: dict[str, float]) -> str:
    """The positive (and, marked possible, uncertain) observations as one sentence."""
    items = [PHRASES[obs].removeprefix("a ").removeprefix("an ") if labels.get(obs) == 1.0 else
             f"possible {PHRASES[obs].removeprefix('a ').removeprefix('an ')}"
             for obs in CHEXPERT_OBSERVATIONS if obs in PHRASES and labels.get(obs) in (1.0, -1.0)]
    if not items:
        return "No finding."
    text = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return text[0].upper() + text[1:] + "."


def conversation_questions(turns: list[tuple[str, str]]) -> list[QAPair]:
    """llava-json exchanges as QA pairs: a yes/no/uncertain answer is closed, any other open."""
    pairs = []
    for question, answer in turns:
        text = " ".join(question.replace("<image>", " ").split())
        if IMPRESSION_MARK in text:  # an impression turn belongs to the impression task
            continue
        kind = "closed" if closed_answer(answer) is not None and len(answer.split()) <= 3 else "open"
        pairs.append(QAPair(text, answer.strip(), kind, question_finding(text) if kind == "closed" else None))
    return pairs


def study_questions(study: Study) -> list[QAPair]:
    """The study's own conversation turns when it has several, else the label templates."""
    turns = study.meta.get("qa")
    if turns:
        return conversation_questions([(str(q), str(a)) for q, a in turns])
    return label_questions(study)
