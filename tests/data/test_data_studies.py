"""A study is the unit: a MIMIC-CXR-JPG-shaped folder read as studies with views and priors; data check/show."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from radzoo.cli import main
from radzoo.data.priors import link_priors
from radzoo.data.readers import read_studies
from radzoo.data.study import Study, StudyImage, representative_frontal, view_of


def png(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), 100, dtype=np.uint8)).save(path)
    return str(path)


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


REPORT = " INDICATION: {ind}\n\n FINDINGS:\n\n {findings}\n\n IMPRESSION:\n\n {imp}\n"


def mimic_studies(root: Path) -> Path:
    """2 subjects, 3 studies, 6 images: s1 PA+LATERAL; a year later s2 AP+AP+LL; another subject's s3 PA only."""
    meta, split = [], []
    for dicom, subject, study, view, date in [
            ("d1", "10000032", "50000001", "PA", "21800506"), ("d1lat", "10000032", "50000001", "LATERAL", "21800506"),
            ("d2a", "10000032", "50000002", "AP", "21810507"), ("d2b", "10000032", "50000002", "AP", "21810507"),
            ("d2ll", "10000032", "50000002", "LL", "21810507"), ("d3", "11000001", "50000003", "PA", "21800101")]:
        meta.append({"dicom_id": dicom, "subject_id": subject, "study_id": study, "ViewPosition": view,
                     "StudyDate": date, "StudyTime": "101500.0"})
        split.append({"dicom_id": dicom, "study_id": study, "subject_id": subject, "split": "train"})
        png(root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom}.jpg")
    write_csv(root / "mimic-cxr-2.0.0-metadata.csv", meta)
    write_csv(root / "mimic-cxr-2.0.0-split.csv", split)
    for subject, study, findings in [("10000032", "50000001", "Small left pleural effusion."),
                                     ("10000032", "50000002", "The left effusion has resolved."),
                                     ("11000001", "50000003", "Lungs are clear.")]:
        (root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt").write_text(
            REPORT.format(ind="Dyspnea.", findings=findings, imp="See findings."))
    return root


def test_mimic_cxr_groups_images_into_studies_with_views_and_priors(tmp_path: Path) -> None:
    studies = {s.id: s for s in read_studies({"format": "mimic-cxr", "path": str(mimic_studies(tmp_path))}).studies}
    assert sorted(studies) == ["50000001", "50000002", "50000003"]
    s1, s2, s3 = studies["50000001"], studies["50000002"], studies["50000003"]
    assert [(i.view, i.position) for i in s2.images] == [("frontal", "AP"), ("frontal", "AP"), ("lateral", "LL")]
    assert s2.image.endswith("d2a.jpg")  # no PA: the first AP represents the study
    assert s1.image.endswith("d1.jpg") and s1.prior is None and s3.prior is None
    assert s2.prior.id == "50000001" and s2.prior.report == "Small left pleural effusion."
    assert s2.sections["impression"] == "See findings." and s2.sections["indication"] == "Dyspnea."


def test_data_check_and_show_on_a_mimic_folder(tmp_path: Path, capsys) -> None:
    root = str(mimic_studies(tmp_path))
    assert main(["data", "check", "--format", "mimic-cxr", "--path", root]) == 0
    out = capsys.readouterr().out
    assert "mimic-cxr data: 3 studies" in out
    assert "images: 6 (frontal 4, lateral 2, other 0); studies with a lateral: 2; with a prior: 1" in out
    assert main(["data", "show", "--format", "mimic-cxr", "--path", root, "--id", "50000002", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [i["view"] for i in shown["images"]] == ["frontal", "frontal", "lateral"]
    assert shown["prior"]["id"] == "50000001" and shown["prior"]["report"] == "Small left pleural effusion."
    assert [i["view"] for i in shown["prior"]["images"]] == ["frontal", "lateral"]
    assert main(["data", "show", "--format", "mimic-cxr", "--path", root, "--id", "50000003"]) == 0
    assert "prior: none" in capsys.readouterr().out
    assert main(["data", "show", "--format", "mimic-cxr", "--path", root, "--id", "59999999"]) == 2
    assert "study '59999999' not found" in capsys.readouterr().err


def test_a_prior_is_never_later_nor_across_the_test_split() -> None:
    def study(sid: str, when: int, split: str) -> Study:
        return Study(sid, f"{sid}.png", "r", split=split, meta={"p": "x", "t": when})

    a, b, c, d = study("a", 1, "train"), study("b", 2, "test"), study("c", 3, "train"), study("d", 4, "test")
    link_priors([d, c, b, a], lambda s: s.meta["p"], lambda s: s.meta["t"])
    assert a.prior is None  # nothing earlier
    assert b.prior is None  # its only earlier study is in train
    assert c.prior.id == "b"  # a train study may look back at any earlier one
    assert d.prior.id == "b" and d.prior.prior is None  # the latest earlier test study, without its own prior


def test_views_and_the_representative_frontal() -> None:
    assert [view_of(code) for code in ("PA", "ap", "LATERAL", "LL", "", None, "LAO")] == \
        ["frontal", "frontal", "lateral", "lateral", "other", "other", "lateral"]
    images = [StudyImage("l", "lateral", "LATERAL"), StudyImage("ap", "frontal", "AP"),
              StudyImage("pa", "frontal", "PA")]
    assert representative_frontal(images).path == "pa"
    assert representative_frontal(images[:2]).path == "ap"
    assert representative_frontal(images[:1]) is None


def test_csv_and_llava_json_studies_with_laterals_and_priors(tmp_path: Path) -> None:
    for name in ("f.png", "l.png", "p.png"):
        png(tmp_path / name)
    table = write_csv(tmp_path / "d.csv", [
        {"id": "a", "image": "f.png", "report": "New effusion.", "image_lateral": "l.png", "prior_image": "p.png",
         "prior_report": "Clear lungs."},
        {"id": "b", "image": "f.png", "report": "Clear.", "image_lateral": "", "prior_image": "",
         "prior_report": "Old report."},
        {"id": "c", "image": "f.png", "report": "Clear.", "image_lateral": "", "prior_image": "", "prior_report": ""}])
    a, b, c = read_studies({"format": "csv", "path": str(table)}).studies
    assert [i.view for i in a.all_images()] == ["frontal", "lateral"] and a.prior.image.endswith("p.png")
    assert a.prior.report == "Clear lungs." and b.prior.image == "" and b.prior.report == "Old report."
    assert len(c.all_images()) == 1 and c.prior is None
    records = [{"id": "r", "image": ["f.png", "l.png"], "views": ["frontal", "lateral"],
                "conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "Clear."}]}]
    (tmp_path / "d.json").write_text(json.dumps(records))
    (r,) = read_studies({"format": "llava-json", "path": str(tmp_path / "d.json")}).studies
    assert [i.view for i in r.images] == ["frontal", "lateral"] and r.image.endswith("f.png")
