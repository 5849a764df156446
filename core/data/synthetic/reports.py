"""Findings reports and CheXpert labels written from a synthetic study's ground truth.

Phrasing follows CheXpert/MIMIC conventions a rule labeler recognises ("Small left pleural effusion.",
"No pneumothorax.", "Possible ..." for faint findings) with several variants per finding, so a model
must learn the finding, not one sentence. Labels say what the report says: 1 stated, -1 hedged, 0 else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.data.synthetic.findings import pick

ADVERB = {"mild": "mildly", "moderate": "moderately", "severe": "severely"}
INDICATIONS = ("Shortness of breath.", "Cough and fever.", "Chest pain.", "Evaluate for pneumonia.",
               "Dyspnea, evaluate for acute process.", "Follow-up.", "Preoperative evaluation.", "Fever.",
               "Hypoxia.", "Weakness.")
DEVICE_INDICATIONS = ("Intubated patient, assess tube position.", "Line placement.", "Evaluate tube and line position.")


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _side_phrase(side: str, noun: str) -> str:
    return f"bilateral {noun}s" if side == "bilateral" else f"{side} {noun}"


def _heart(truth: dict[str, Any], rng: np.random.Generator) -> str | None:
    c = truth["cardiomegaly"]
    if c is None:
        if rng.random() < 0.15:
            return None
        return pick(rng, ("Heart size is normal.", "The heart is normal in size.", "Normal heart size.",
                           "The cardiac silhouette is within normal limits."))
    s = c["severity"]
    if c["uncertain"]:
        return pick(rng, ("Possible mild cardiomegaly.", "Mild cardiomegaly cannot be excluded."))
    return pick(rng, (f"The heart is {ADVERB[s]} enlarged.", f"{_cap(s)} cardiomegaly.",
                       f"The cardiac silhouette is {ADVERB[s]} enlarged.", f"There is {s} cardiomegaly."))


def _lungs(truth: dict[str, Any], rng: np.random.Generator) -> list[str]:
    out = []
    c = truth["consolidation"]
    if c:
        lobe, noun = c["lobe"], c["kind"]
        if c["uncertain"]:
            out.append(pick(rng, (f"Possible {lobe} lobe {noun}.", f"{_cap(lobe)} lobe {noun} cannot be excluded.")))
        elif noun == "opacity":
            out.append(pick(rng, (f"Patchy opacity in the {lobe} lobe.", f"{_cap(lobe)} lobe opacity.")))
        else:
            out.append(pick(rng, (f"{_cap(lobe)} lobe consolidation.", f"Consolidation in the {lobe} lobe.",
                                   f"There is focal consolidation in the {lobe} lobe.")))
    n = truth["nodule"]
    if n:
        size = f"{n['size_cm']:g} cm"
        out.append(pick(rng, (f"{size} {n['kind']} in the {n['lobe']} lobe.", f"A {size} {n['kind']} is seen in the "
                               f"{n['lobe']} lobe.", f"There is a {size} {n['kind']} in the {n['lobe']} lobe.")))
    e = truth["edema"]
    if e:
        s = e["severity"]
        if e["uncertain"]:
            out.append(pick(rng, ("Possible mild pulmonary edema.", "Mild pulmonary edema cannot be excluded.")))
        else:
            out.append(pick(rng, (f"{_cap(s)} pulmonary edema.", f"There is {s} pulmonary edema.",
                                   f"Findings are consistent with {s} pulmonary edema.")))
    a = truth["atelectasis"]
    if a:
        side, linear = a["side"], a["pattern"] == "linear"
        if side == "bilateral":
            out.append("Linear bibasilar atelectasis." if linear else
                       pick(rng, ("Bibasilar atelectasis.", "Bibasilar atelectasis is present.")))
        elif linear:
            out.append(pick(rng, (f"Linear atelectasis at the {side} base.", f"Plate-like atelectasis in the {side} "
                                   "lower lung.")))
        else:
            out.append(pick(rng, (f"{_cap(side)} basilar atelectasis.", f"Atelectasis at the {side} lung base.")))
    if not out:
        out.append(pick(rng, ("The lungs are clear.", "Lungs are clear.", "The lungs are clear without focal "
                               "consolidation.", "No focal consolidation.")))
    elif not c and rng.random() < 0.5:
        out.append("No focal consolidation.")
    if not e and rng.random() < 0.3:
        out.append(pick(rng, ("No pulmonary edema.", "There is no pulmonary edema.")))
    return out


def _pleura(truth: dict[str, Any], rng: np.random.Generator) -> list[str]:
    e, p = truth["pleural_effusion"], truth["pneumothorax"]
    if not e and not p:
        return [pick(rng, ("No pleural effusion or pneumothorax.", "There is no pleural effusion or pneumothorax.",
                            "No pneumothorax or pleural effusion."))]
    out = []
    if e:
        what = f"{e['size']} {_side_phrase(e['side'], 'pleural effusion')}"
        if e["uncertain"]:
            out.append(pick(rng, (f"Possible {what}.", f"A {what} cannot be excluded.")))
        elif e["side"] == "bilateral":
            out.append(pick(rng, (f"{_cap(what)}.", f"There are {what}.")))
        else:
            out.append(pick(rng, (f"{_cap(what)}.", f"There is a {what}.", f"A {what} is present.")))
    else:
        out.append(pick(rng, ("No pleural effusion.", "There is no pleural effusion.")))
    if p:
        what = f"{p['size']} {p['side']} pneumothorax"
        out.append(pick(rng, (f"{_cap(what)}.", f"There is a {what}.",
                              f"A {what} is seen, with a visible pleural line.")))
    else:
        out.append(pick(rng, ("No pneumothorax.", "There is no pneumothorax.", "No evidence of pneumothorax.")))
    return out


def _devices(truth: dict[str, Any], rng: np.random.Generator) -> list[str]:
    d = truth["support_devices"]
    if not d:
        return []
    out = []
    if "et_tube" in d["devices"]:
        cm = d["et_tube_cm_above_carina"]
        out.append(pick(rng, (f"An endotracheal tube terminates {cm} cm above the carina.",
                               f"The endotracheal tube tip is {cm} cm above the carina.")))
    if "ng_tube" in d["devices"]:
        out.append(pick(rng, ("A nasogastric tube courses into the stomach.",
                               "An enteric tube extends below the diaphragm into the stomach.")))
    if "central_line" in d["devices"]:
        out.append(pick(rng, ("A right internal jugular central venous catheter terminates in the SVC.",
                               "Right-sided central line with tip in the lower SVC.")))
    return out


def write_report(truth: dict[str, Any], rng: np.random.Generator) -> str:
    """A findings paragraph for ``truth``: devices, then heart/lungs in either order, then pleura."""
    heart = _heart(truth, rng)
    lungs = _lungs(truth, rng)
    middle = ([heart] if heart else []) + lungs if rng.random() < 0.6 else lungs + ([heart] if heart else [])
    sentences = _devices(truth, rng) + middle + _pleura(truth, rng)
    if truth["normal"] and rng.random() < 0.3:
        sentences.append("No acute cardiopulmonary process.")
    return " ".join(sentences)


def write_indication(truth: dict[str, Any], rng: np.random.Generator) -> str | None:
    """An indication for about half the studies."""
    if rng.random() < 0.5:
        return None
    if truth["support_devices"] and rng.random() < 0.5:
        return pick(rng, DEVICE_INDICATIONS)
    return pick(rng, INDICATIONS)


def chexpert_labels(truth: dict[str, Any]) -> dict[str, float]:
    """The 14 CheXpert labels the report states: 1 positive, -1 hedged, 0 otherwise."""
    labels = dict.fromkeys(CHEXPERT_OBSERVATIONS, 0.0)

    def mark(name: str, entry: dict[str, Any] | None) -> None:
        if entry:
            labels[name] = -1.0 if entry.get("uncertain") else 1.0

    mark("Cardiomegaly", truth["cardiomegaly"])
    mark("Pleural Effusion", truth["pleural_effusion"])
    mark("Pneumothorax", truth["pneumothorax"])
    c = truth["consolidation"]
    mark("Lung Opacity" if c and c["kind"] == "opacity" else "Consolidation", c)
    mark("Lung Lesion", truth["nodule"])
    mark("Edema", truth["edema"])
    mark("Atelectasis", truth["atelectasis"])
    mark("Support Devices", truth["support_devices"])
    pathology = [v for k, v in labels.items() if k not in ("Support Devices", "No Finding")]
    labels["No Finding"] = 0.0 if any(v != 0 for v in pathology) else 1.0
    return labels
