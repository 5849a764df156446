"""RADEX-like instruction data: recognition and reasoning question/answer pairs from a study's labels.

In the spirit of SLaVA-CXR's RADEX corpus: yes/no recognition questions per finding, reasoning questions
about side, size, lobe and severity (from the synthetic set's structured truth when the study has one),
and the report itself. Used by the ``instruction`` training task.
"""

from __future__ import annotations

import random
from typing import Any

from radzoo.data.study import Study

REPORT_QUESTION = "Write a findings report of this image:"
# truth key -> (CheXpert observation, the finding's name in questions)
FINDINGS = {
    "cardiomegaly": ("Cardiomegaly", "cardiomegaly"),
    "pleural_effusion": ("Pleural Effusion", "a pleural effusion"),
    "pneumothorax": ("Pneumothorax", "a pneumothorax"),
    "consolidation": ("Consolidation", "a consolidation or focal opacity"),
    "nodule": ("Lung Lesion", "a lung nodule or mass"),
    "edema": ("Edema", "pulmonary edema"),
    "atelectasis": ("Atelectasis", "atelectasis"),
    "support_devices": ("Support Devices", "a support device such as a tube or line"),
}
RECOGNITION_TEMPLATES = ("Is there {finding}?", "Does this chest X-ray show {finding}?",
                         "Is there evidence of {finding} in this image?")
DEVICE_NAMES = {"et_tube": "an endotracheal tube", "ng_tube": "a nasogastric tube",
                "central_line": "a central venous line"}


def build_instructions(study: Study, rng: random.Random, recognition: int = 2) -> list[tuple[str, str]]:
    """Question/answer pairs for ``study``: ``recognition`` yes/no questions (positives first), one reasoning
    question per positive finding with structured truth, and the report question when it has a report."""
    truth = study.meta.get("truth") or {}
    pairs: list[tuple[str, str]] = []
    status = {key: _status(study, truth, key) for key in FINDINGS}
    known = [k for k, v in status.items() if v is not None]
    positives = [k for k in known if status[k] != "absent"]
    negatives = [k for k in known if status[k] == "absent"]
    rng.shuffle(positives)
    rng.shuffle(negatives)
    for key in (positives + negatives)[:recognition]:
        template = rng.choice(RECOGNITION_TEMPLATES)
        pairs.append((template.format(finding=FINDINGS[key][1]), _recognition_answer(key, status[key], truth.get(key))))
    for key in positives:
        if truth.get(key):
            pairs.append(_reasoning(key, truth[key], rng))
    if known and rng.random() < 0.5:
        pairs.append(("What abnormalities are seen in this chest X-ray?", _summary(positives, truth)))
    if (study.report or "").strip():
        pairs.append((REPORT_QUESTION, study.report.strip()))
    return pairs


def _status(study: Study, truth: dict[str, Any], key: str) -> str | None:
    """"present", "uncertain", "absent", or None when unknown."""
    if truth:
        entry = truth.get(key)
        if not entry:
            return "absent" if key in truth else None
        return "uncertain" if entry.get("uncertain") else "present"
    observation = FINDINGS[key][0]
    value = study.labels.get(observation)
    if key == "consolidation" and value in (None, 0.0):
        value = study.labels.get("Lung Opacity", value)
    return {1.0: "present", -1.0: "uncertain", 0.0: "absent"}.get(value) if value is not None else None


def _describe(key: str, entry: dict[str, Any] | None) -> str:
    """A noun phrase for a present finding, with its side/size/lobe/severity when known."""
    if not entry:
        return {"cardiomegaly": "cardiomegaly", "pleural_effusion": "a pleural effusion",
                "pneumothorax": "a pneumothorax", "consolidation": "a consolidation", "nodule": "a lung lesion",
                "edema": "pulmonary edema", "atelectasis": "atelectasis",
                "support_devices": "support devices"}[key]
    if key == "cardiomegaly":
        return f"{entry['severity']} cardiomegaly"
    if key == "pleural_effusion":
        side = entry["side"]
        return f"{entry['size']} bilateral pleural effusions" if side == "bilateral" else \
            f"a {entry['size']} {side} pleural effusion"
    if key == "pneumothorax":
        return f"a {entry['size']} {entry['side']} pneumothorax"
    if key == "consolidation":
        return f"{entry['kind']} in the {entry['lobe']} lobe"
    if key == "nodule":
        return f"a {entry['size_cm']:g} cm {entry['kind']} in the {entry['lobe']} lobe"
    if key == "edema":
        return f"{entry['severity']} pulmonary edema"
    if key == "atelectasis":
        side = entry["side"]
        return "bibasilar atelectasis" if side == "bilateral" else f"{entry['pattern']} atelectasis at the {side} base"
    return " and ".join(DEVICE_NAMES[d] for d in entry["devices"])


def _recognition_answer(key: str, status: str, entry: dict[str, Any] | None) -> str:
    if status == "absent":
        return f"No, there is no {FINDINGS[key][1].removeprefix('a ').removeprefix('an ')}."
    if status == "uncertain":
        return f"Possibly: {_describe(key, entry)} cannot be excluded."
    return f"Yes, {_describe(key, entry)}."


def _reasoning(key: str, entry: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """A location or severity question about a present finding."""
    if key == "cardiomegaly":
        return ("How large is the heart?", f"The heart is enlarged ({entry['severity']} cardiomegaly), with a "
                                           "cardiothoracic ratio above 0.5.")
    if key in ("pleural_effusion", "pneumothorax", "atelectasis"):
        name = key.replace("_", " ")
        side = entry["side"]
        where = "on both sides" if side == "bilateral" else f"on the {side} side"
        if key != "atelectasis" and rng.random() < 0.5:
            return (f"How large is the {name}?", f"The {name} is {entry['size']}.")
        return (f"Which side is the {name} on?", f"The {name} is {where}.")
    if key in ("consolidation", "nodule"):
        name = entry["kind"]
        return (f"Where is the {name} located?", f"In the {entry['lobe']} lobe: {_describe(key, entry)}.")
    if key == "edema":
        return ("How severe is the pulmonary edema?", f"The edema is {entry['severity']}.")
    return ("Which support devices are present?", f"{_describe(key, entry)[0].upper()}{_describe(key, entry)[1:]}.")


def _summary(positives: list[str], truth: dict[str, Any]) -> str:
    if not positives:
        return "No acute abnormality: the heart, lungs and pleura are normal."
    items = [_describe(k, truth.get(k)) for k in sorted(positives)]
    return "The image shows " + ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1] + "."
