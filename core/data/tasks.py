"""Tasks: what a model is asked about a study and what it should answer (``findings``, ``impression``, ``vqa``).

- ``findings`` (the default; ``report`` is its older name): the recipe's own prompt, with the indication when
  the study has one -> the findings report. Unchanged from before tasks existed.
- ``impression``: the image plus the study's findings text -> its impression, with SLaVA-CXR's prompt, taken
  verbatim (typo included) from its repository's sample file ``iuxray_sample_impression.jsonl``
  (github.com/knowlab/SLaVA-CXR, commit 81e4b09).
- ``vqa``: questions about the image (radzoo.data.vqa_questions): templated closed and open questions from
  the labels, or a llava-json record's own turns.

``task_studies`` turns studies into one study per example, whose ``report`` is the answer and whose
``meta[TASK_PROMPT]`` the question: generation, evaluation and compare run any task through them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from radzoo.data.study import Study
from radzoo.data.vqa_questions import IMPRESSION_MARK, study_questions
from radzoo.errors import InputError

TASKS = ("findings", "impression", "vqa")
ALIASES = {"report": "findings"}
TASK_PROMPT = "task_prompt"  # Study.meta key: the question a task study asks instead of the recipe's prompt
IMPRESSION_PROMPT = ("Write a impression summary of this image and the findings report. \n##Findings: {findings} "
                     "\n##Impression:")


@dataclass(frozen=True)
class TaskExample:
    """One question and its answer; ``question`` None means the recipe's own findings prompt."""

    task: str
    question: str | None
    answer: str
    key: str = ""  # tells a study's examples apart ("q3"); empty for one example per study
    kind: str = ""  # vqa: closed | open
    finding: str | None = None  # vqa: the observation a closed question asks about


def canonical_task(name: Any, where: str = "task") -> str:
    """findings / impression / vqa from a task name (``report`` is findings); a clear error otherwise."""
    task = ALIASES.get(str(name), str(name))
    if task not in TASKS:
        raise InputError(f"{where}: unknown task {name!r}; use one of {', '.join(TASKS)}")
    return task


def task_weights(value: Any, where: str) -> dict[str, float]:
    """A stage's ``task``: one name, or a mapping task -> sampling weight (``{findings: 0.7, impression: 0.3}``)."""
    if isinstance(value, Mapping):
        weights = {canonical_task(k, where): float(v) for k, v in value.items()}
        if not weights or any(w <= 0 for w in weights.values()):
            raise InputError(f"{where}: every task of a mixture needs a weight above 0, got {dict(value)}")
        return weights
    return {canonical_task(value, where): 1.0}


def findings_text(study: Study) -> str | None:
    """The study's findings: its findings section, else its report (the findings target every reader fills)."""
    text = study.sections.get("findings") or study.report
    return text.strip() if text and text.strip() else None


def impression_text(study: Study) -> str | None:
    """The study's impression section (readers that split the report put it in ``sections`` or ``meta``)."""
    text = study.sections.get("impression") or study.meta.get("impression") or study.meta.get("section_impression")
    turns = [a for q, a in study.meta.get("qa") or [] if IMPRESSION_MARK in str(q)]  # a llava-json impression turn
    text = text or (turns[0] if turns else None)
    return str(text).strip() if text and str(text).strip() else None


def task_examples(study: Study, task: str) -> list[TaskExample]:
    """The study's examples for ``task`` (none when it lacks what the task needs: an impression, labels)."""
    if task == "findings":
        return [TaskExample(task, None, study.report)] if (study.report or "").strip() else []
    if task == "impression":
        findings, impression = findings_text(study), impression_text(study)
        if not findings or not impression:
            return []
        return [TaskExample(task, IMPRESSION_PROMPT.format(findings=findings), impression)]
    return [TaskExample(task, p.question, p.answer, f"q{i}", p.kind, p.finding)
            for i, p in enumerate(study_questions(study))]


def task_studies(studies: Sequence[Study], task: str) -> list[Study]:
    """One study per example of ``task``: ``report`` the answer, ``meta[TASK_PROMPT]`` the question; ids get
    ``#key`` when a study has several. ``findings`` gives the studies back unchanged."""
    task = canonical_task(task)
    if task == "findings":
        return list(studies)
    out = []
    for study in studies:
        for example in task_examples(study, task):
            meta = {**study.meta, TASK_PROMPT: example.question, "task": task, "study_id": study.id,
                    "qa_kind": example.kind, "qa_finding": example.finding}
            out.append(replace(study, id=f"{study.id}#{example.key}" if example.key else study.id,
                               report=example.answer, indication=None, meta=meta))
    return out


def task_fields(study: Study) -> dict[str, Any]:
    """What a prediction record of a task study adds: the task, the question, and a vqa question's kind."""
    if study.meta.get(TASK_PROMPT) is None:
        return {}
    fields = {"task": study.meta.get("task"), "question": study.meta[TASK_PROMPT], "study_id": study.meta.get(
        "study_id")}
    if study.meta.get("qa_kind"):
        fields.update(kind=study.meta["qa_kind"], finding=study.meta.get("qa_finding"))
    return fields
