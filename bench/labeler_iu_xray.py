"""radzoo's offline CheXpert rule labeler on real reports: per-finding precision / recall / F1 against the manual
MeSH tags of the Open-i Indiana University chest X-ray collection (IU X-ray; Demner-Fushman et al. 2016).

Data (never in the project): ``indiana_reports.csv`` (uid, MeSH, findings, impression, ...) read from a git copy
of github.com/SaadSubhaniTheProgrammerVersion/Textual-Report-Generation-from-Chest-X-rays-Indiana-Dataset
(bench/iu_xray_reports.py says how to get it); only figures are written.
Report text = findings + " " + impression; reports tagged "No Indexing" or with no text are left out.
Gold per finding = the report has one of the MeSH major terms (the part before the first "/") in GOLD; the
tags are made by people reading the report, independently of the labeler. Edema is "Pulmonary Edema" only
(CheXpert reads "congestion" as uncertain edema, and MeSH tags it apart). Prediction = the labeler's 1;
uncertain (-1) counts as negative, as the tags record only findings stated as present.
Split by uid: odd uids are the dev split (rules may be tuned looking at them), even uids are held out (never
looked at while tuning; only their figures are read).

Run: python bench/labeler_iu_xray.py MIRROR_GIT_DIR [--errors FINDING] [--dev-only] (writes
bench/results/labeler_iu_xray.json; --errors prints dev-split disagreements for one finding).
labeler_iu_xray_before_tuning.json: the same script on the labeler before the dev-split rule changes (commit
1b22a78); the first round of changes gave held-out micro-F1 0.859 (commit 9e4f83c), the second 0.870.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from iu_xray_reports import read_rows

from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS, label_reports

GOLD = {
    "No Finding": ("normal",),
    "Cardiomegaly": ("Cardiomegaly",),
    "Lung Opacity": ("Opacity", "Airspace Disease", "Infiltrate", "Density"),
    "Lung Lesion": ("Nodule", "Mass"),
    "Edema": ("Pulmonary Edema",),
    "Consolidation": ("Consolidation",),
    "Pneumonia": ("Pneumonia",),
    "Atelectasis": ("Pulmonary Atelectasis",),
    "Pneumothorax": ("Pneumothorax",),
    "Pleural Effusion": ("Pleural Effusion",),
    "Fracture": ("Fractures, Bone",),
    "Support Devices": ("Catheters, Indwelling", "Implanted Medical Device", "Tube, Inserted", "Medical Device"),
}
HEADLINE = [f for f in GOLD if f != "No Finding"]  # micro-F1 over the findings (No Finding reported apart)
OUT = Path(__file__).parent / "results" / "labeler_iu_xray.json"


def read_reports(rows: list[dict]) -> list[dict]:
    """[{uid, text, terms}] of the tagged reports with text."""
    reports = []
    for row in rows:
        text = " ".join(part.strip() for part in (row["findings"], row["impression"]) if part and part.strip())
        terms = {tag.split("/")[0].strip() for tag in row["MeSH"].split(";")}
        if text and "No Indexing" not in terms:
            reports.append({"uid": int(row["uid"]), "text": text, "terms": terms})
    return reports


def score(reports: list[dict], labels: list[list]) -> dict:
    """Per finding: tp, fp, fn, precision, recall, f1; and micro-F1 over HEADLINE and over all of GOLD."""
    table = {}
    for finding, terms in GOLD.items():
        column = OBSERVATIONS.index(finding)
        tp = fp = fn = 0
        for report, row in zip(reports, labels):
            gold, predicted = bool(report["terms"] & set(terms)), row[column] == 1.0
            tp, fp, fn = tp + (gold and predicted), fp + (predicted and not gold), fn + (gold and not predicted)
        table[finding] = {"gold": tp + fn, "tp": tp, "fp": fp, "fn": fn, **_prf(tp, fp, fn)}

    def micro(findings):
        tp, fp, fn = (sum(table[f][k] for f in findings) for k in ("tp", "fp", "fn"))
        return _prf(tp, fp, fn)["f1"]

    return {"reports": len(reports), "micro_f1": micro(HEADLINE), "micro_f1_with_no_finding": micro(list(GOLD)),
            "lowest_f1": min((table[f]["f1"], f) for f in HEADLINE), "findings": table}


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirror", help="git directory (bare or checkout) of the repository holding the CSV")
    parser.add_argument("--errors", default=None, help="print dev-split disagreements for this finding")
    parser.add_argument("--dev-only", action="store_true", help="score the dev split only, write nothing (tuning)")
    args = parser.parse_args()
    rows, source = read_rows(args.mirror)
    reports = read_reports(rows)
    splits = {"dev": [r for r in reports if r["uid"] % 2 == 1], "held_out": [r for r in reports if r["uid"] % 2 == 0]}
    if args.errors:
        dev, column = splits["dev"], OBSERVATIONS.index(args.errors)
        for report, row in zip(dev, label_reports([r["text"] for r in dev])):
            gold = bool(report["terms"] & set(GOLD[args.errors]))
            if gold != (row[column] == 1.0):
                print(f"{'FN' if gold else 'FP'} {row[column]} | {report['text']} | {sorted(report['terms'])}")
        return
    result = {"machine": platform.platform(), "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
              "source": "Open-i Indiana University chest X-ray reports (indiana_reports.csv), manual MeSH tags",
              "read_from": source,
              "gold_terms": {f: list(t) for f, t in GOLD.items()}, "uncertain": "negative",
              "split": "dev = odd uid (rules tuned looking at it), held_out = even uid (never looked at)"}
    for name, subset in splits.items():
        if args.dev_only and name != "dev":
            return
        result[name] = score(subset, label_reports([r["text"] for r in subset]))
        held = result[name]
        print(f"{name}: {held['reports']} reports, micro-F1 {held['micro_f1']:.3f} over {len(HEADLINE)} findings "
              f"({held['micro_f1_with_no_finding']:.3f} with No Finding); lowest {held['lowest_f1']}")
        for finding, row in held["findings"].items():
            print(f"  {finding:18s} gold {row['gold']:4d}  P {row['precision']:.3f}  R {row['recall']:.3f}  "
                  f"F1 {row['f1']:.3f}")
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
