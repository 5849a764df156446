"""Each data reader on small fixture files written here; problems counted per reason or raised when strict."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radzoo.data.readers import DataProblem, read_studies
from radzoo.data.report_sections import split_sections


def png(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), 100, dtype=np.uint8)).save(path)
    return str(path)


def write_csv(path: Path, rows: list[dict], gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open(path, "wt", newline="") if gz else open(path, "w", newline="")) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# ---- csv ---------------------------------------------------------------------------------------------

def test_csv_reader_columns_labels_and_skips(tmp_path: Path) -> None:
    png(tmp_path / "img" / "a.png")
    png(tmp_path / "img" / "b.png")
    (tmp_path / "img" / "zero.png").write_bytes(b"")
    rows = [
        {"study": "a", "file": "img/a.png", "text": "Small left pleural effusion.", "reason": "Dyspnea.", "part": "val",
         "Pleural Effusion": "1.0", "Edema": ""},
        {"study": "b", "file": "img/b.png", "text": "The lungs are clear.", "reason": "", "part": "test",
         "Pleural Effusion": "0", "Edema": "-1"},
        {"study": "c", "file": "img/missing.png", "text": "x", "reason": "", "part": "train", "Pleural Effusion": "",
         "Edema": ""},
        {"study": "d", "file": "img/b.png", "text": "  ", "reason": "", "part": "train", "Pleural Effusion": "",
         "Edema": ""},
        {"study": "e", "file": "img/zero.png", "text": "y", "reason": "", "part": "train", "Pleural Effusion": "",
         "Edema": ""},
    ]
    table = write_csv(tmp_path / "data.csv", rows)
    cfg = {"format": "csv", "path": str(table), "options": {
        "image_column": "file", "report_column": "text", "indication_column": "reason", "id_column": "study",
        "split_column": "part"}}
    result = read_studies(cfg)
    assert [s.id for s in result.studies] == ["a", "b"]
    a, b = result.studies
    assert a.split == "validate" and a.indication == "Dyspnea." and a.labels == {"Pleural Effusion": 1.0}
    assert Path(a.image) == tmp_path / "img" / "a.png"
    assert b.indication is None and b.labels == {"Pleural Effusion": 0.0, "Edema": -1.0}
    assert result.skip_counts() == {"empty_image_file": 1, "empty_report": 1, "missing_image": 1}
    assert "missing.png" in result.skipped["missing_image"][0][1]
    assert [s.id for s in read_studies(cfg, split="test").studies] == ["b"]
    with pytest.raises(DataProblem, match=r"study c.*missing\.png"):
        read_studies({**cfg, "options": {**cfg["options"], "strict": True}})


def test_csv_reader_errors_name_the_problem(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "d.csv", [{"image": "a.png", "findings": "x"}])
    with pytest.raises(ValueError, match=r"'report'.*'image', 'findings'"):
        read_studies({"format": "csv", "path": str(table)})
    with pytest.raises(ValueError, match="unknown option.*report_col"):
        read_studies({"format": "csv", "path": str(table), "options": {"report_col": "findings"}})
    with pytest.raises(ValueError, match="not a known data format"):
        read_studies({"format": "dicomdir", "path": str(table)})
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_studies({"format": "csv", "path": str(tmp_path / "nope.csv")})


def test_csv_reader_several_image_columns_and_image_root(tmp_path: Path) -> None:
    png(tmp_path / "images" / "f.png")
    png(tmp_path / "images" / "l.png")
    row = {"id": "s1", "frontal": "f.png", "lateral": "l.png", "report": "r"}
    table = write_csv(tmp_path / "meta" / "d.csv", [row])
    result = read_studies({"format": "csv", "path": str(table), "image_root": str(tmp_path / "images"),
                           "options": {"image_column": ["frontal", "lateral"]}})
    assert [s.id for s in result.studies] == ["s1/frontal", "s1/lateral"]
    assert all(s.split == "train" for s in result.studies)


# ---- llava-json --------------------------------------------------------------------------------------

def test_llava_json_reader(tmp_path: Path) -> None:
    png(tmp_path / "imgs" / "1.jpg")
    records = [
        {"id": "r1", "image": "imgs/1.jpg", "chexpert_labels": {"Cardiomegaly": 1.0, "Edema": None},
         "conversations": [{"from": "human", "value": "<image>\nProvide a description of the findings in the radiology "
                            "image given the following indication: Chest pain."},
                           {"from": "gpt", "value": "Moderate cardiomegaly."}]},
        {"id": "r2", "image": "imgs/1.jpg", "reason": "Cough.", "split": "test",
         "conversations": [{"from": "human", "value": "<image>\nDescribe."}, {"from": "gpt", "value": "Clear."}]},
        {"id": "r3", "image": "imgs/gone.jpg", "conversations": [{"from": "human", "value": "<image>"},
                                                               {"from": "gpt", "value": "x"}]},
        {"id": "r4", "image": "imgs/1.jpg", "conversations": [{"from": "human", "value": "<image>"}]},
    ]
    (tmp_path / "train.json").write_text(json.dumps(records))
    result = read_studies({"format": "llava-json", "path": str(tmp_path / "train.json")})
    r1, r2 = result.studies
    assert r1.indication == "Chest pain." and r1.report == "Moderate cardiomegaly."
    assert r1.labels == {"Cardiomegaly": 1.0}
    assert r1.split == "train" and r2.split == "test" and r2.indication == "Cough."
    assert result.skip_counts() == {"missing_answer": 1, "missing_image": 1}


# ---- mimic-cxr ---------------------------------------------------------------------------------------

MIMIC_REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with shortness of breath

 COMPARISON:  None.

 FINDINGS:

 The heart is mildly enlarged.  Small left pleural
 effusion.  No pneumothorax.

 IMPRESSION:

 Mild cardiomegaly and small left effusion.
"""


def mimic_fixture(root: Path) -> None:
    """Three studies: s1 (PA + lateral), s2 (AP, report without FINDINGS), s3 (PA, no report file)."""
    meta, split = [], []
    for dicom, subject, study, view, part in [("d1", "10000032", "50000001", "PA", "train"),
                                              ("d1lat", "10000032", "50000001", "LATERAL", "train"),
                                              ("d2", "10000032", "50000002", "AP", "test"),
                                              ("d3", "11000001", "50000003", "PA", "validate")]:
        meta.append({"dicom_id": dicom, "subject_id": subject, "study_id": study, "ViewPosition": view})
        split.append({"dicom_id": dicom, "study_id": study, "subject_id": subject, "split": part})
        png(root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom}.jpg")
    write_csv(root / "mimic-cxr-2.0.0-metadata.csv", meta)
    write_csv(root / "mimic-cxr-2.0.0-split.csv.gz", split, gz=True)
    write_csv(root / "mimic-cxr-2.0.0-chexpert.csv", [{"subject_id": "10000032", "study_id": "50000001",
                                                       "Cardiomegaly": "1.0", "Pleural Effusion": "1.0",
                                                       "Pneumothorax": "0.0", "Edema": ""}])
    reports = root / "files" / "p10" / "p10000032"
    (reports / "s50000001.txt").write_text(MIMIC_REPORT)
    (reports / "s50000002.txt").write_text(" IMPRESSION: No acute process.\n")


def test_mimic_cxr_reader(tmp_path: Path) -> None:
    mimic_fixture(tmp_path)
    result = read_studies({"format": "mimic-cxr", "path": str(tmp_path)})
    (s1,) = result.studies
    assert s1.id == "50000001" and s1.split == "train" and s1.meta["view"] == "PA"
    assert s1.report == "The heart is mildly enlarged. Small left pleural effusion. No pneumothorax."
    assert s1.indication == "___F with shortness of breath"
    assert s1.meta["impression"] == "Mild cardiomegaly and small left effusion."
    assert s1.sections["impression"] == "Mild cardiomegaly and small left effusion."  # the impression task's input
    assert s1.labels == {"Cardiomegaly": 1.0, "Pleural Effusion": 1.0, "Pneumothorax": 0.0}
    assert s1.image.endswith("files/p10/p10000032/s50000001/d1.jpg")
    assert [i.view for i in s1.images] == ["frontal", "lateral"]  # the lateral belongs to the study
    assert result.skip_counts() == {"missing_findings_section": 1, "missing_report_file": 1}
    both = read_studies({"format": "mimic-cxr", "path": str(tmp_path),
                         "options": {"sections": ["findings", "impression"], "views": ["PA", "AP"]}})
    assert both.studies[0].report.endswith("No pneumothorax. Mild cardiomegaly and small left effusion.")
    assert [i.view for i in both.studies[0].images] == ["frontal"] and both.filtered["view_not_selected"] == 1


def test_mimic_cxr_requires_its_tables(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="metadata"):
        read_studies({"format": "mimic-cxr", "path": str(tmp_path)})


def test_report_sections() -> None:
    sections = split_sections(MIMIC_REPORT)
    assert sections["examination"] == "CHEST (PA AND LAT)" and sections["comparison"] == "None."
    assert sections["findings"].startswith("The heart is mildly enlarged.")
    assert split_sections("Heart normal. Lungs clear.") == {"preamble": "Heart normal. Lungs clear."}


# ---- chexpert-plus -----------------------------------------------------------------------------------

def test_chexpert_plus_reader(tmp_path: Path) -> None:
    png(tmp_path / "train" / "patient1" / "study1" / "view1_frontal.png")  # the PNG release of a listed .jpg
    png(tmp_path / "train" / "patient1" / "study1" / "view2_lateral.jpg")
    png(tmp_path / "train" / "patient1" / "study2" / "view1_frontal.jpg")
    png(tmp_path / "valid" / "patient2" / "study1" / "view1_frontal.jpg")
    base = {"section_impression": "", "section_clinical_history": "", "section_history": "", "Cardiomegaly": "",
            "ap_pa": ""}
    rows = [
        {**base, "path_to_image": "train/patient1/study1/view1_frontal.jpg", "frontal_lateral": "Frontal",
         "section_findings": "Heart size is normal.", "section_impression": "Normal.", "split": "train",
         "section_clinical_history": "Fever.", "Cardiomegaly": "0", "ap_pa": "PA"},
        {**base, "path_to_image": "train/patient1/study1/view2_lateral.jpg", "frontal_lateral": "Lateral",
         "section_findings": "Heart size is normal.", "split": "train"},
        {**base, "path_to_image": "train/patient1/study2/view1_frontal.jpg", "frontal_lateral": "Frontal",
         "section_findings": "New small effusion.", "split": "train", "ap_pa": "AP"},
        {**base, "path_to_image": "valid/patient2/study1/view1_frontal.jpg", "frontal_lateral": "Frontal",
         "section_findings": "", "split": "valid"},
    ]
    table = write_csv(tmp_path / "df_chexpert_plus.csv", rows)
    result = read_studies({"format": "chexpert-plus", "path": str(table)})
    s, later = result.studies
    assert s.id == "train/patient1/study1" and [(i.view, i.position) for i in s.images] == \
        [("frontal", "PA"), ("lateral", None)]
    assert s.image.endswith("view1_frontal.png") and s.indication == "Fever." and s.labels == {"Cardiomegaly": 0.0}
    assert s.report == "Heart size is normal." and s.meta["section_impression"] == "Normal."
    assert s.sections == {"indication": "Fever.", "findings": "Heart size is normal.", "impression": "Normal."}
    assert s.prior is None
    assert later.prior.id == "train/patient1/study1" and later.prior.report == "Heart size is normal."
    assert result.skip_counts() == {"missing_section_findings": 1}
    both = read_studies({"format": "chexpert-plus", "path": str(table),
                         "options": {"sections": ["section_findings", "section_impression"], "frontal_only": True}})
    assert both.studies[0].report == "Heart size is normal. Normal." and both.filtered["not_frontal"] == 1
    assert len(both.studies[0].images) == 1


# ---- iu-xray -----------------------------------------------------------------------------------------

def test_iu_xray_reader(tmp_path: Path) -> None:
    for case in ("CXR1_1_IM-0001", "CXR2_1_IM-0002"):
        png(tmp_path / "images" / case / "0.png")
        png(tmp_path / "images" / case / "1.png")
    annotation = {
        "train": [{"id": "CXR1_1_IM-0001", "report": "The heart is normal in size.  The lungs are clear.",
                   "image_path": ["CXR1_1_IM-0001/0.png", "CXR1_1_IM-0001/1.png"], "split": "train"}],
        "val": [{"id": "CXR2_1_IM-0002", "report": "No acute disease.",
                 "image_path": ["CXR2_1_IM-0002/0.png", "CXR2_1_IM-0002/1.png"], "split": "val"}],
        "test": [{"id": "CXR3", "report": "", "image_path": ["CXR3/0.png"], "split": "test"}],
    }
    (tmp_path / "annotation.json").write_text(json.dumps(annotation))
    result = read_studies({"format": "iu-xray", "path": str(tmp_path / "annotation.json")})
    assert [(s.id, s.split) for s in result.studies] == [("CXR1_1_IM-0001", "train"), ("CXR2_1_IM-0002", "validate")]
    assert result.studies[0].report == "The heart is normal in size. The lungs are clear."
    assert result.studies[0].image.endswith("images/CXR1_1_IM-0001/0.png")
    assert [(i.view, Path(i.path).name) for i in result.studies[0].images] == [("frontal", "0.png"),
                                                                              ("lateral", "1.png")]
    assert result.skip_counts() == {"empty_report": 1}
    every = read_studies({"format": "iu-xray", "path": str(tmp_path / "annotation.json"),
                          "options": {"images": "all"}}, split="train")
    assert [s.id for s in every.studies] == ["CXR1_1_IM-0001/0", "CXR1_1_IM-0001/1"]


def test_verify_images_counts_unreadable_files(tmp_path: Path) -> None:
    png(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    table = write_csv(tmp_path / "d.csv", [{"image": "ok.png", "report": "r"}, {"image": "bad.png", "report": "r"}])
    cfg = {"format": "csv", "path": str(table)}
    assert len(read_studies(cfg).studies) == 2  # cheap checks only by default
    verified = read_studies({**cfg, "options": {"verify_images": True}})
    assert len(verified.studies) == 1 and verified.skip_counts() == {"unreadable_image": 1}


OPENI_XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation><MedlineCitation><Article><Abstract>
<AbstractText Label="COMPARISON">None.</AbstractText>
<AbstractText Label="INDICATION">Positive TB test</AbstractText>
<AbstractText Label="FINDINGS">{findings}</AbstractText>
<AbstractText Label="IMPRESSION">Normal chest x-XXXX.</AbstractText>
</Abstract></Article></MedlineCitation>
<parentImage id="{case}_IM-0001-4001"><figureId>F1</figureId></parentImage>
<parentImage id="{case}_IM-0001-3001"><figureId>F2</figureId></parentImage>
</eCitation>"""


def test_iu_xray_openi_xml_layout(tmp_path: Path) -> None:
    reports = tmp_path / "ecgen-radiology"
    reports.mkdir()
    (reports / "1.xml").write_text(OPENI_XML.format(findings="The heart is normal in size.", case="CXR1"))
    (reports / "2.xml").write_text(OPENI_XML.format(findings="", case="CXR2"))
    png(tmp_path / "NLMCXR_png" / "CXR1_IM-0001-4001.png")
    png(tmp_path / "NLMCXR_png" / "CXR1_IM-0001-3001.png")
    result = read_studies({"format": "iu-xray", "path": str(reports),
                           "options": {"sections": ["findings", "impression"]}})
    (s,) = result.studies
    assert s.report == "The heart is normal in size. Normal chest x-XXXX." and s.indication == "Positive TB test"
    assert s.image.endswith("NLMCXR_png/CXR1_IM-0001-4001.png") and s.split == "train"
    assert [i.view for i in s.images] == ["frontal", "lateral"]
    assert result.skip_counts() == {"missing_findings_section": 1}
