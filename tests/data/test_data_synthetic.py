"""Synthetic CXR set: deterministic output, reports that agree with labels, findings visible in pixels, CLI."""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from radzoo.cli import main
from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.readers import read_studies
from radzoo.data.synthetic import generate, render_truth
from radzoo.data.synthetic.findings import FINDINGS, normal_truth, sample_truth
from radzoo.data.synthetic.lateral import render_lateral
from radzoo.data.synthetic.reports import chexpert_labels, write_report

SIZE = 96
# observation -> words that name it in a report
KEYWORDS = {
    "Cardiomegaly": r"cardiomegaly|enlarged", "Pleural Effusion": r"effusion", "Pneumothorax": r"pneumothorax",
    "Consolidation": r"consolidation", "Lung Opacity": r"opacity", "Lung Lesion": r"nodule|mass",
    "Edema": r"edema", "Atelectasis": r"atelectasis", "Support Devices": r"tube|catheter|central line",
}
HEDGE = re.compile(r"possible|cannot be excluded")
NEGATION = re.compile(r"^(no|there is no)\b|without")


def test_generate_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a, b, c = (generate(tmp_path / name, 12, seed=seed, image_size=64) for name, seed in (("a", 1), ("b", 1), ("c", 2)))
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 12 + 3
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / "reports.csv").read_bytes() != (c / "reports.csv").read_bytes()
    assert (a / "images" / "syn000000.png").read_bytes() != (c / "images" / "syn000000.png").read_bytes()


def test_written_formats_read_back_identically(tmp_path: Path) -> None:
    out = generate(tmp_path / "set", 20, seed=0, image_size=64)
    from_csv = read_studies({"format": "synthetic", "path": str(out)})
    from_json = read_studies({"format": "llava-json", "path": str(out / "llava.json")})
    assert len(from_csv.studies) == len(from_json.studies) == 20 and not from_csv.skipped
    for s, t in zip(from_csv.studies, from_json.studies):
        assert (s.id, s.image, s.report, s.indication, s.split) == (t.id, t.image, t.report, t.indication, t.split)
        assert s.labels == t.labels and set(s.labels) == set(CHEXPERT_OBSERVATIONS)
        assert s.meta["truth"] == t.meta["truth"]
    assert from_csv.split_counts() == {"test": 2, "train": 16, "validate": 2}
    manifest = json.loads((out / "synthetic.json").read_text())
    assert manifest["n"] == 20 and manifest["image_size"] == 64


def _sentences_naming(report: str, pattern: str) -> list[str]:
    return [s.strip().lower() for s in report.split(".") if re.search(pattern, s.lower())]


def test_reports_agree_with_labels_and_truth() -> None:
    rng = np.random.default_rng(0)
    for _ in range(600):
        truth = sample_truth(rng)
        report, labels = write_report(truth, rng), chexpert_labels(truth)
        for observation, pattern in KEYWORDS.items():
            sentences = _sentences_naming(report, pattern)
            if observation == "Cardiomegaly":  # "heart is normal in size" etc. do not name it
                sentences = [s for s in sentences if "normal" not in s]
            stated = [s for s in sentences if not NEGATION.search(s)]
            if labels[observation] == 1:
                assert stated and not any(HEDGE.search(s) for s in stated), (observation, report)
            elif labels[observation] == -1:
                assert stated and all(HEDGE.search(s) for s in stated), (observation, report)
            else:
                assert not stated, (observation, report)
        assert labels["No Finding"] == (1.0 if truth["normal"] or set(k for k in FINDINGS if truth[k]) ==
                                        {"support_devices"} else 0.0)
        if truth["pleural_effusion"]:
            e = truth["pleural_effusion"]
            (sentence,) = _sentences_naming(report, "effusion")
            assert e["size"] in sentence and (e["side"] in sentence)
        if truth["consolidation"]:
            assert truth["consolidation"]["lobe"] in report.lower()
        if truth["normal"]:
            assert re.search(r"lungs are clear|no focal consolidation", report.lower())
            assert re.search(r"no pleural effusion or pneumothorax|no pneumothorax or pleural effusion", report.lower())


def test_prevalences_are_sensible() -> None:
    rng = np.random.default_rng(1)
    truths = [sample_truth(rng) for _ in range(3000)]
    assert 0.2 < np.mean([t["normal"] for t in truths]) < 0.3
    for name in FINDINGS:
        assert 0.12 < np.mean([t[name] is not None for t in truths]) < 0.32, name


def _pair(finding: str, value: dict, seed: int, ctr: float = 0.44) -> tuple[np.ndarray, np.ndarray]:
    """The same chest without and with one finding (float pixels)."""
    base = normal_truth()
    sick = copy.deepcopy(base)
    sick[finding], sick["ctr"], sick["normal"] = value, ctr, False
    return (render_truth(base, np.random.default_rng(seed), SIZE).astype(float),
            render_truth(sick, np.random.default_rng(seed), SIZE).astype(float))


def _zone(img: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> float:
    n = img.shape[0]
    return float(img[int(y0 * n):int(y1 * n), int(x0 * n):int(x1 * n)].mean())


def _heart_width(img: np.ndarray) -> float:
    """Width of the bright run through the midline, averaged over the rows just above the domes."""
    n = img.shape[0]
    widths = []
    for row in img[int(0.60 * n):int(0.65 * n)]:
        bright = row > 150
        mid = n // 2
        left = mid - np.argmin(bright[mid::-1]) if not bright[mid::-1].all() else 0
        right = mid + np.argmin(bright[mid:]) if not bright[mid:].all() else n
        widths.append((right - left) / n)
    return float(np.mean(widths))


@pytest.mark.parametrize("seed", range(4))
def test_findings_change_the_pixels_where_expected(seed: int) -> None:
    normal, big_heart = _pair("cardiomegaly", {"severity": "moderate", "uncertain": False}, seed, ctr=0.62)
    assert _heart_width(big_heart) > _heart_width(normal) + 0.08
    normal, effusion = _pair("pleural_effusion", {"side": "left", "size": "moderate", "uncertain": False}, seed)
    left_base, right_base = (0.70, 0.80, 0.55, 0.66), (0.20, 0.30, 0.55, 0.66)  # patient's left = image right
    assert _zone(effusion, *left_base) > _zone(normal, *left_base) + 25
    assert abs(_zone(effusion, *right_base) - _zone(normal, *right_base)) < 3
    normal, ptx = _pair("pneumothorax", {"side": "right", "size": "large"}, seed)
    assert _zone(ptx, 0.16, 0.22, 0.3, 0.5) < _zone(normal, 0.16, 0.22, 0.3, 0.5) - 10
    normal, cons = _pair("consolidation", {"lobe": "left upper", "kind": "consolidation", "uncertain": False}, seed)
    assert _zone(cons, 0.62, 0.78, 0.2, 0.35) > _zone(normal, 0.62, 0.78, 0.2, 0.35) + 20
    normal, edema = _pair("edema", {"severity": "severe", "uncertain": False}, seed)
    assert _zone(edema, 0.32, 0.42, 0.35, 0.5) > _zone(normal, 0.32, 0.42, 0.35, 0.5) + 20
    normal, ett = _pair("support_devices", {"devices": ["et_tube"], "et_tube_cm_above_carina": 4}, seed)
    trachea = (slice(0, SIZE // 4), slice(int(0.44 * SIZE), int(0.56 * SIZE)))
    assert ((ett - normal)[trachea] > 40).sum() > 10


def test_nodule_and_atelectasis_are_visible() -> None:
    normal, nodule = _pair("nodule", {"kind": "mass", "size_cm": 5.0, "lobe": "right lower"}, 0)
    assert (np.abs(nodule - normal) > 30).sum() > 40
    normal, atel = _pair("atelectasis", {"side": "bilateral", "pattern": "linear"}, 0)
    assert (atel - normal > 30).sum() > 40


def test_synth_and_check_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "synth", "--n", "10", "--out", str(tmp_path / "s"), "--seed", "3", "--image-size", "48"]) == 0
    assert (tmp_path / "s" / "images" / "syn000009.png").is_file()
    assert main(["data", "check", "--format", "csv", "--path", str(tmp_path / "s" / "reports.csv")]) == 0
    out = capsys.readouterr().out
    assert "10 studies" in out and re.search(r"train\s+8", out) and "skipped: none" in out


def test_default_synthetic_set_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADZOO_CACHE", str(tmp_path))
    cfg = {"format": "synthetic", "options": {"n": 10, "image_size": 40}}
    first = read_studies(cfg, split="train")
    assert len(first.studies) == 8 and str(tmp_path) in first.studies[0].image
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    stamp = (folder / "reports.csv").stat().st_mtime_ns
    assert len(read_studies(cfg).studies) == 10 and (folder / "reports.csv").stat().st_mtime_ns == stamp


def test_multi_image_studies_leave_the_frontal_set_byte_identical(tmp_path: Path) -> None:
    plain, multi = generate(tmp_path / "plain", 30, image_size=64), generate(tmp_path / "multi", 30, image_size=64,
                                                                             multi_image=True)
    for image in sorted((plain / "images").glob("*.png")):
        assert image.read_bytes() == (multi / "images" / image.name).read_bytes()
    assert (plain / "llava.json").read_bytes() == (multi / "llava.json").read_bytes()
    with open(plain / "reports.csv") as a, open(multi / "reports.csv") as b:
        plain_rows, multi_rows = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [{k: r[k] for k in plain_rows[0]} for r in multi_rows] == plain_rows
    laterals = [r for r in multi_rows if r["image_lateral"]]
    priors = [r for r in multi_rows if r["prior_image"]]
    assert 15 <= len(laterals) < 30 and 5 <= len(priors) <= 25
    assert all((multi / r["image_lateral"]).is_file() and (multi / r["prior_image"]).is_file() for r in priors
               if r["image_lateral"])
    changed = [r for r in priors if r["report_vs_prior"] != r["report"]]
    assert changed and all(r["report_vs_prior"].startswith(r["report"]) for r in changed)
    assert any(w in r["report_vs_prior"] for r in changed for w in ("is new", "is unchanged", "has resolved"))
    studies = read_studies({"format": "synthetic", "path": str(multi), "options": {"report_column": "report_vs_prior"}})
    with_prior = [s for s in studies.studies if s.prior is not None]
    assert len(with_prior) == len(priors) and with_prior[0].prior.report
    assert sum(len(s.all_images()) for s in studies.studies) == 30 + len(laterals)


def test_the_lateral_view_shows_an_effusion_at_the_posterior_base() -> None:
    truth = normal_truth()
    effusion = {**truth, "normal": False, "pleural_effusion": {"side": "left", "size": "large", "uncertain": False}}
    clear = render_lateral(truth, np.random.default_rng(0), 64).astype(float)
    fluid = render_lateral(effusion, np.random.default_rng(0), 64).astype(float)
    base = slice(32, 44), slice(34, 44)  # lower lung, posterior half
    assert fluid[base].mean() > clear[base].mean() + 20
