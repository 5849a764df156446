"""RADEX-like instruction data: recognition, reasoning and report questions from labels and truth."""

from __future__ import annotations

import random

from radzoo.data.instructions import REPORT_QUESTION, build_instructions
from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.study import Study
from radzoo.data.synthetic.findings import normal_truth


def synthetic_study() -> Study:
    truth = normal_truth(0.6)
    truth.update(normal=False, cardiomegaly={"severity": "moderate", "uncertain": False},
                 pleural_effusion={"side": "left", "size": "small", "uncertain": False},
                 nodule={"kind": "nodule", "size_cm": 2.0, "lobe": "right upper"})
    return Study(id="s", image="s.png", report="Moderate cardiomegaly. Small left pleural effusion.",
                 meta={"truth": truth})


def test_recognition_reasoning_and_report_from_truth() -> None:
    pairs = build_instructions(synthetic_study(), random.Random(0), recognition=8)
    answers = dict(pairs)
    effusion = [a for q, a in pairs if "pleural effusion" in q and not q.startswith(("How", "Which"))]
    assert effusion == ["Yes, a small left pleural effusion."]
    assert any(a == "No, there is no pneumothorax." for q, a in pairs if "pneumothorax" in q)
    assert answers.get("Which side is the pleural effusion on?") == "The pleural effusion is on the left side." or \
        answers.get("How large is the pleural effusion?") == "The pleural effusion is small."
    assert "right upper lobe" in answers["Where is the nodule located?"]
    assert "moderate" in answers["How large is the heart?"]
    assert pairs[-1] == (REPORT_QUESTION, "Moderate cardiomegaly. Small left pleural effusion.")


def test_labels_only_study_and_uncertainty() -> None:
    study = Study(id="m", image="m.png", report="r", labels={"Edema": 0.0, "Cardiomegaly": -1.0, "Fracture": 1.0})
    pairs = build_instructions(study, random.Random(3), recognition=5)
    (cardio,) = [a for q, a in pairs if "cardiomegaly" in q]
    (edema,) = [a for q, a in pairs if "edema" in q]
    assert cardio.startswith("Possibly") and edema == "No, there is no pulmonary edema."
    assert len([q for q, _ in pairs if q != REPORT_QUESTION and "abnormalities" not in q]) == 2  # only known ones


def test_same_rng_same_pairs_and_no_report_without_text() -> None:
    study = synthetic_study()
    assert build_instructions(study, random.Random(5)) == build_instructions(study, random.Random(5))
    study.report = None
    assert all(q != REPORT_QUESTION for q, _ in build_instructions(study, random.Random(5)))
    assert build_instructions(Study(id="e", image="e.png"), random.Random(0)) == []


def test_the_chexpert_vocabulary_is_written_once() -> None:
    from radzoo.data import labels
    from radzoo.plugins.evaluators import chexbert, chexpert_f1, chexpert_labeler

    # the paper's order (Irvin et al. 2019, table 1), which the chexpert-labeler also writes
    assert labels.OBSERVATIONS[:3] == ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly")
    assert labels.OBSERVATIONS[3:5] == ("Lung Lesion", "Lung Opacity") and len(set(labels.OBSERVATIONS)) == 14
    # CheXbert's heads: the same names, No Finding last and Lung Opacity before Lung Lesion
    assert sorted(CHEXPERT_OBSERVATIONS) == sorted(labels.OBSERVATIONS) and CHEXPERT_OBSERVATIONS[-1] == "No Finding"
    assert CHEXPERT_OBSERVATIONS[2:4] == ("Lung Opacity", "Lung Lesion")
    # the labeler, the F1 evaluators and CheXbert's head order use these very tuples, not copies
    assert chexpert_labeler.OBSERVATIONS is labels.OBSERVATIONS
    assert chexpert_f1.CheXpertF1Evaluator.label_names is labels.OBSERVATIONS
    assert chexbert.CONDITIONS is CHEXPERT_OBSERVATIONS and set(labels.FIVE) < set(labels.OBSERVATIONS)
