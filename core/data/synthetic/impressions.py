"""Impressions of synthetic studies: a one-or-two-sentence summary of what the findings report says.

Drawn from their own random stream (seed, index, 11), read-time only: the set's images, findings reports,
labels and splits (written by ``generate``) are not touched, so cached sets and the demo stay as they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radzoo.data.synthetic.findings import pick

NORMAL = ("No acute cardiopulmonary process.", "No acute cardiopulmonary abnormality.",
          "Normal chest radiograph.")


def _phrase(key: str, entry: dict[str, Any]) -> str:
    if key == "cardiomegaly":
        return f"{entry['severity']} cardiomegaly"
    if key == "pleural_effusion":
        side = entry["side"]
        return f"{entry['size']} bilateral pleural effusions" if side == "bilateral" else \
            f"{entry['size']} {side} pleural effusion"
    if key == "pneumothorax":
        return f"{entry['size']} {entry['side']} pneumothorax"
    if key == "consolidation":
        return f"{entry['lobe']} lobe {'opacity' if entry['kind'] == 'opacity' else 'consolidation'}"
    if key == "nodule":
        return f"{entry['size_cm']:g} cm {entry['lobe']} lobe {entry['kind']}"
    if key == "edema":
        return f"{entry['severity']} pulmonary edema"
    if key == "atelectasis":
        return "bibasilar atelectasis" if entry["side"] == "bilateral" else f"{entry['side']} basilar atelectasis"
    return "support devices in place"


ORDER = ("pneumothorax", "consolidation", "pleural_effusion", "edema", "cardiomegaly", "nodule", "atelectasis",
         "support_devices")


def write_impression(truth: dict[str, Any], rng: np.random.Generator) -> str:
    """The impression of a study with ``truth``: its findings by urgency, hedged ones marked possible."""
    items = []
    for key in ORDER:
        entry = truth.get(key)
        if entry:
            text = _phrase(key, entry)
            items.append(f"possible {text}" if entry.get("uncertain") else text)
    if not items:
        return pick(rng, NORMAL)
    sentence = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return sentence[0].upper() + sentence[1:] + "."


def impression_of(study_id: str, truth: dict[str, Any], seed: int) -> str:
    """Study ``syn000123``'s impression in the set with ``seed``."""
    index = int(study_id.removeprefix("syn"))
    return write_impression(truth, np.random.default_rng([seed, index, 11]))
