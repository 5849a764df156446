"""radzoo's rule-based CheXpert labeler: published samples, negation, uncertainty, No Finding, CLI."""

from __future__ import annotations

import csv

import pytest

from radzoo.cli import main
from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS, label_report, label_reports

# The sample reports and expected labels published with stanfordmlgroup/chexpert-labeler (MIT):
# sample_reports.csv and labeled_reports.csv (blank observations omitted).
PUBLISHED = [
    ("Heart size normal and lungs are clear. No edema or pneumonia. No effusion",
     {"No Finding": 1.0, "Cardiomegaly": 0.0, "Edema": 0.0, "Pneumonia": 0.0, "Pleural Effusion": 0.0}),
    ("1. Left pleural effusion with adjacent atelectasis. Right effusion is also present.\n\n"
     "2. Cardiomegaly without overt edema.",
     {"Cardiomegaly": 1.0, "Edema": 0.0, "Atelectasis": 1.0, "Pleural Effusion": 1.0}),
    ("Minimal patchy airspace disease within the lingula, may reflect atelectasis or consolidation.",
     {"Lung Opacity": 1.0, "Consolidation": -1.0, "Atelectasis": -1.0}),
    ("1. Stable mild cardiomegaly. 2. Hyperexpanded but clear lungs.", {"Cardiomegaly": 1.0}),
]


def mentioned(text: str) -> dict[str, float]:
    return {k: v for k, v in label_report(text).items() if v is not None}


@pytest.mark.parametrize(("text", "expected"), PUBLISHED)
def test_published_samples_reproduced(text, expected):
    assert mentioned(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("No pleural effusion.", {"Pleural Effusion": 0.0, "No Finding": 1.0}),
    ("Cannot exclude pneumonia.", {"Pneumonia": -1.0}),
    ("Pneumonia cannot be excluded.", {"Pneumonia": -1.0}),
    ("Atelectasis versus pneumonia at the left base.", {"Atelectasis": -1.0, "Pneumonia": -1.0}),
    ("No focal consolidation, pleural effusion, or pneumothorax.",
     {"Consolidation": 0.0, "Pleural Effusion": 0.0, "Pneumothorax": 0.0, "No Finding": 1.0}),
    ("There is no pneumothorax and the heart is mildly enlarged.", {"Pneumothorax": 0.0, "Cardiomegaly": 1.0}),
    ("Interval removal of the endotracheal tube. Resolved right pneumothorax.",
     {"Support Devices": 0.0, "Pneumothorax": 0.0, "No Finding": 1.0}),
    ("Small pericardial effusion.", {"No Finding": 1.0}),
    ("Findings suggest congestive heart failure.", {"Edema": -1.0, "Cardiomegaly": -1.0}),
    ("There is no focal consolidation to suggest pneumonia.",
     {"Consolidation": 0.0, "Pneumonia": 0.0, "No Finding": 1.0}),
    ("Heart size normal, mild pulmonary edema.", {"Cardiomegaly": 0.0, "Edema": 1.0}),
    ("Left basilar opacity, likely atelectasis.", {"Lung Opacity": 1.0, "Atelectasis": -1.0}),
    ("Blunting of the left costophrenic angle, which may reflect small effusion or pleural thickening.",
     {"Pleural Effusion": -1.0, "Pleural Other": -1.0}),
    ("The mediastinal and hilar contours are normal. Old healed left rib fractures.",
     {"Enlarged Cardiomediastinum": 0.0, "Fracture": 1.0}),
])
def test_negation_and_uncertainty(text, expected):
    assert mentioned(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("The heart is mildly enlarged.", {"Cardiomegaly": 1.0}),
    ("Moderate cardiomegaly.", {"Cardiomegaly": 1.0}),
    ("Small left pleural effusion. No pneumothorax.", {"Pleural Effusion": 1.0, "Pneumothorax": 0.0}),
    ("Right lower lobe consolidation.", {"Consolidation": 1.0}),
    ("Possible early pneumonia.", {"Pneumonia": -1.0}),
    ("Mild pulmonary edema. Bibasilar atelectasis.", {"Edema": 1.0, "Atelectasis": 1.0}),
    ("2 cm nodule in the right upper lobe.", {"Lung Lesion": 1.0}),
    ("The endotracheal tube terminates 4 cm above the carina. The lungs are clear. Heart size is normal.",
     {"Support Devices": 1.0, "Cardiomegaly": 0.0, "No Finding": 1.0}),
    ("Normal heart size. The lungs are clear.", {"Cardiomegaly": 0.0, "No Finding": 1.0}),
])
def test_demo_report_phrasing(text, expected):
    assert mentioned(text) == expected


def test_no_finding_blank_when_any_pathology_or_other_abnormality():
    assert label_report("Moderate emphysema. No effusion.")["No Finding"] is None
    assert label_report("Possible small effusion.")["No Finding"] is None
    assert label_report("Right PICC line in the SVC. Lungs are clear.")["No Finding"] == 1.0
    assert label_report("")["No Finding"] == 1.0


def test_label_reports_rows_follow_observation_order():
    rows = label_reports([PUBLISHED[1][0], "Moderate cardiomegaly."])
    assert len(rows) == 2 and all(len(r) == 14 for r in rows)
    assert rows[1][OBSERVATIONS.index("Cardiomegaly")] == 1.0
    assert OBSERVATIONS[0] == "No Finding" and OBSERVATIONS[-1] == "Support Devices"


def test_label_cli_with_report_column(tmp_path):
    src = tmp_path / "reports.csv"
    with src.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["study", "report"])
        for i, (text, _) in enumerate(PUBLISHED):
            writer.writerow([f"s{i}", text])
    out = tmp_path / "labels.csv"
    assert main(["label", str(src), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(newline="")))
    assert list(rows[0]) == ["study", "report", *OBSERVATIONS]
    for row, (_, expected) in zip(rows, PUBLISHED):
        assert {k: float(row[k]) for k in OBSERVATIONS if row[k] != ""} == expected
    assert rows[2]["Consolidation"] == "-1.0" and rows[0]["Lung Opacity"] == ""


def test_label_cli_headerless_and_bad_header(tmp_path, capsys):
    src = tmp_path / "plain.csv"
    src.write_text("No pleural effusion.\nModerate cardiomegaly.\n")
    out = tmp_path / "labels.csv"
    assert main(["label", str(src), "--out", str(out)]) == 0
    rows = list(csv.reader(out.open(newline="")))
    assert rows[0][0] == "Reports" and len(rows) == 3
    assert rows[2][1 + OBSERVATIONS.index("Cardiomegaly")] == "1.0"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,No effusion\n")
    assert main(["label", str(bad), "--out", str(out)]) == 2
    assert "no 'report' column" in capsys.readouterr().err
