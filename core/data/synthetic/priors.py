"""A synthetic patient's prior study, and the change language that compares the current study with it.

The current study is never changed: its prior is drawn from it. Each current finding is new (absent before),
unchanged (the same entry), worse (one step smaller or milder before) or better (one step larger or worse
before); a finding absent now may have been there before (resolved). Change sentences name each finding once.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from radzoo.data.synthetic.findings import FINDINGS, SEVERITIES, SIZES, sample_truth

PRIOR_PROBABILITY = 0.5
RESOLVED_PROBABILITY = 0.2
CHANGES = ("new", "unchanged", "worse", "better", "resolved")
NAMES = {"cardiomegaly": "cardiomegaly", "pleural_effusion": "pleural effusion", "pneumothorax": "pneumothorax",
         "consolidation": "consolidation", "nodule": "lung nodule", "edema": "pulmonary edema",
         "atelectasis": "atelectasis", "support_devices": "support devices"}


def _grade(entry: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """The entry's graded key (size or severity) and its scale, when it has one."""
    for key, scale in (("size", SIZES), ("severity", SEVERITIES)):
        if entry.get(key) in scale:
            return key, scale
    return None


def draw_prior(truth: dict[str, Any], rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(prior truth, finding -> change) for about half the patients; None when the patient has no prior."""
    if rng.random() >= PRIOR_PROBABILITY:
        return None
    prior, changes = copy.deepcopy(truth), {}
    other = sample_truth(rng)
    for name in FINDINGS:
        entry = truth[name]
        if not entry:
            if other[name] and rng.random() < RESOLVED_PROBABILITY and name != "cardiomegaly":
                prior[name], changes[name] = copy.deepcopy(other[name]), "resolved"
            continue
        roll, grade = rng.random(), _grade(entry)
        if roll < 0.3:
            prior[name], changes[name] = None, "new"
        elif roll < 0.5 and grade:
            key, scale = grade
            step = scale.index(entry[key])
            before = step - 1 if step > 0 else step + 1
            prior[name][key] = scale[before]
            changes[name] = "worse" if before < step else "better"
        else:
            changes[name] = "unchanged"
    prior["normal"] = not any(prior[name] for name in FINDINGS)
    return prior, changes


def change_sentences(changes: dict[str, str]) -> str:
    """One sentence per finding, e.g. "The pleural effusion is new." / "Cardiomegaly is unchanged."."""
    verbs = {"new": "is new", "unchanged": "is unchanged", "worse": "has worsened", "better": "has improved",
             "resolved": "has resolved"}
    out = []
    for name, change in changes.items():
        noun = NAMES[name]
        subject = noun.capitalize() if name in ("cardiomegaly", "atelectasis", "edema") else f"The {noun}"
        if name == "support_devices":
            out.append("Support devices are " + {"new": "new", "unchanged": "unchanged", "resolved": "removed"}.get(
                change, "repositioned") + ".")
        else:
            out.append(f"{subject} {verbs[change]}.")
    return " ".join(out)
