"""Tasks: examples per study (findings unchanged, impression prompt, vqa templates), and vqa scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radzoo.data.readers import read_studies
from radzoo.data.study import Study
from radzoo.data.tasks import IMPRESSION_PROMPT, canonical_task, task_examples, task_studies, task_weights
from radzoo.data.vqa_questions import OPEN_QUESTION, label_questions, open_answer
from radzoo.errors import InputError
from radzoo.plugins.evaluators.vqa_scores import VqaEvaluator, vqa_reference


def study(**kwargs) -> Study:
    return Study(id="s1", image="x.png", report="Mild cardiomegaly. Small left pleural effusion.",
                 indication="Dyspnea.", **kwargs)


def test_findings_is_the_report_task_unchanged() -> None:
    s = study()
    assert canonical_task("report") == "findings"
    assert task_studies([s], "findings") == [s]  # the very same objects: generation stays byte-identical
    [example] = task_examples(s, "findings")
    assert example.question is None and example.answer == s.report


def test_impression_uses_slava_cxrs_prompt_with_the_findings() -> None:
    s = study(sections={"impression": "Cardiomegaly and left effusion."})
    [t] = task_studies([s], "impression")
    assert t.report == "Cardiomegaly and left effusion." and t.indication is None
    assert t.meta["task_prompt"] == IMPRESSION_PROMPT.format(findings=s.report)
    assert t.meta["task_prompt"].startswith("Write a impression summary of this image and the findings report. \n")
    assert t.meta["task_prompt"].endswith(" \n##Impression:")
    assert task_studies([study()], "impression") == []  # no impression: nothing to ask
    # a reader that keeps the impression in meta (MIMIC-CXR, CheXpert Plus) is read too
    assert task_examples(study(meta={"section_impression": "No acute process."}), "impression")[0].answer == \
        "No acute process."


def test_vqa_templates_from_labels() -> None:
    labels = {"Cardiomegaly": 1.0, "Pleural Effusion": -1.0, "Pneumothorax": 0.0, "No Finding": 0.0}
    pairs = label_questions(study(labels=labels))
    assert [(p.question, p.answer, p.kind) for p in pairs] == [
        ("Is there cardiomegaly?", "yes", "closed"), ("Is there a pneumothorax?", "no", "closed"),
        ("Is there a pleural effusion?", "uncertain", "closed"),
        (OPEN_QUESTION, "Cardiomegaly and possible pleural effusion.", "open")]
    assert open_answer({"No Finding": 1.0}) == "No finding."
    ids = [t.id for t in task_studies([study(labels=labels)], "vqa")]
    assert ids == ["s1#q0", "s1#q1", "s1#q2", "s1#q3"]


def test_vqa_reads_llava_json_turns(tmp_path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    record = {"id": "r1", "image": "a.png", "conversations": [
        {"from": "human", "value": "<image>\nWrite a findings report of this image:"},
        {"from": "gpt", "value": "Normal heart size."},
        {"from": "human", "value": "Is there a pneumothorax?"}, {"from": "gpt", "value": "No."},
        {"from": "human", "value": "Which side is the effusion on?"}, {"from": "gpt", "value": "The left side."}]}
    (tmp_path / "d.json").write_text(json.dumps([record]))
    [s] = read_studies({"format": "llava-json", "path": str(tmp_path / "d.json")}).studies
    assert s.report == "Normal heart size."
    examples = task_examples(s, "vqa")
    assert [(e.question, e.answer, e.kind, e.finding) for e in examples] == [
        ("Is there a pneumothorax?", "No.", "closed", "Pneumothorax"),
        ("Which side is the effusion on?", "The left side.", "open", None)]


def test_stage_task_weights() -> None:
    assert task_weights("report", "x") == {"findings": 1.0}
    assert task_weights({"findings": 0.7, "impression": 0.3}, "x") == {"findings": 0.7, "impression": 0.3}
    with pytest.raises(InputError, match="unknown task 'impresion'"):
        task_weights({"impresion": 1}, "stages[2]")
    with pytest.raises(InputError, match="weight above 0"):
        task_weights({"vqa": 0}, "stages[2]")


def test_vqa_scores() -> None:
    refs = [vqa_reference("Is there cardiomegaly?", "yes", "closed"),
            vqa_reference("Is there cardiomegaly?", "no", "closed"),
            vqa_reference("Is there a pleural effusion?", "yes", "closed"),
            vqa_reference(OPEN_QUESTION, "Cardiomegaly and pleural effusion.", "open"),
            vqa_reference(OPEN_QUESTION, "No finding.", "open")]
    preds = ["Yes.", "yes", "no", "Cardiomegaly.", "No finding."]
    evaluator = VqaEvaluator()
    values = evaluator.aggregate(evaluator.sample_stats(preds, refs))
    assert values["vqa_closed_accuracy"] == pytest.approx(1 / 3)
    # cardiomegaly: tp 1, fp 1 -> F1 2/3; pleural effusion: fn 1 -> F1 0; the rest asked nothing -> NaN
    assert values["vqa_f1_cardiomegaly"] == pytest.approx(2 / 3)
    assert values["vqa_f1_pleural_effusion"] == 0.0
    assert np.isnan(values["vqa_f1_pneumothorax"])
    assert values["vqa_closed_macro_f1"] == pytest.approx(1 / 3)
    # open: tp cardiomegaly + no finding = 2, fn pleural effusion = 1 -> 4 / 5
    assert values["vqa_open_micro_f1"] == pytest.approx(0.8)
    assert np.isnan(evaluator.aggregate(evaluator.sample_stats(preds, refs), [3, 4])["vqa_closed_accuracy"])


def test_synthetic_impressions_leave_the_set_as_it_was(tmp_path) -> None:
    from radzoo.data.synthetic import generate

    folder = generate(tmp_path / "syn", 10, image_size=32)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    studies = read_studies({"format": "synthetic", "path": str(folder)}).studies
    assert all(s.sections["impression"] and s.sections["findings"] == s.report for s in studies)
    again = read_studies({"format": "synthetic", "path": str(folder)}).studies
    assert [s.sections for s in again] == [s.sections for s in studies]  # seeded: the same every read
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    abnormal = [s for s in studies if s.labels.get("No Finding") == 0.0]
    assert abnormal and all("No acute" not in s.sections["impression"] for s in abnormal)
