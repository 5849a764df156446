"""What a comparison needs per task (radzoo.data.tasks): file names, references, metrics and reference rows.

``findings`` keeps every name and number it had before tasks existed; another task writes beside it
(``predictions-impression.jsonl``, ``OUT/impression/leaderboard.md``) so one comparison folder holds all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from radzoo.comparison.baselines import NORMAL_REPORT, nearest_neighbours
from radzoo.data.study import Study
from radzoo.data.tasks import TASK_PROMPT, task_examples
from radzoo.plugins.evaluators.vqa_scores import vqa_reference

# the constant reference row's answer per task (vqa: closed questions get "no", open ones the open answer)
CONSTANT = {"findings": NORMAL_REPORT, "impression": "No acute cardiopulmonary process.", "vqa": "no"}
CONSTANT_OPEN = "No finding."
HEADLINES = {"vqa": "vqa_closed_accuracy"}
METRICS = {"vqa": ("vqa",)}


def task_file(name: str, task: str) -> str:
    """``predictions.jsonl`` for findings, ``predictions-vqa.jsonl`` for vqa: each task's own file."""
    if task == "findings":
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}-{task}{dot}{suffix}"


def task_folder(out_dir: Path, task: str) -> Path:
    """Where a task's leaderboard and plots go: the comparison folder for findings, ``OUT/<task>`` else."""
    return out_dir if task == "findings" else out_dir / task


def references(studies: Sequence[Study], task: str) -> list[str]:
    """What the evaluators compare against: the answer; for vqa the question with it (vqa_reference)."""
    if task == "vqa":
        return [vqa_reference(str(s.meta.get(TASK_PROMPT) or ""), s.report or "", s.meta.get("qa_kind"))
                for s in studies]
    return [s.report or "" for s in studies]


def constant_answers(studies: Sequence[Study], task: str) -> list[str]:
    """The constant reference row: the same normal answer to every question of its kind."""
    if task == "vqa":
        return [CONSTANT["vqa"] if s.meta.get("qa_kind") == "closed" else CONSTANT_OPEN for s in studies]
    return [CONSTANT[task] for _ in studies]


def neighbour_answers(train: Sequence[Study], test: Sequence[Study], task: str) -> list[str]:
    """The nearest-neighbour row: each question answered as for the closest training image (same question;
    the constant answer where that study has no such question)."""
    parents: dict[str, Study] = {}
    for study in test:
        parents.setdefault(str(study.meta.get("study_id", study.id)), study)
    picks = dict(zip(parents, nearest_neighbours(train, list(parents.values())), strict=True))
    answers = []
    constant = constant_answers(test, task)
    for study, fallback in zip(test, constant, strict=True):
        neighbour = train[picks[str(study.meta.get("study_id", study.id))]]
        asked = {e.question: e.answer for e in task_examples(neighbour, task)}
        answers.append(asked.get(study.meta.get(TASK_PROMPT), fallback))
    return answers
