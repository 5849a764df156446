"""Writes radeval_temporal_f1.json: RadEval's own temporal F1 code, RUN on the pairs below.

Needs the upstream checkout (not part of radzoo): RadEval at e0a39097e7788b6d0a229432add96c63ea60d62f,
``radeval/metrics/f1temporal/f1temporal.py`` copied to UPSTREAM_DIR (e.g. /work/upstream/radeval). RadEval builds a
Stanza radiology NER pipeline at import, whose model needs a download; it is replaced here by one that finds no
entities, so the figures are RadEval's keyword path (clean_text, whole-word regex, epsilon F1) exactly.

    python tests/plugins/data/radeval_temporal_goldens.py /work/upstream/radeval
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

PAIRS = [
    ("The left pleural effusion is new. Cardiomegaly is unchanged.", "New left effusion. Stable cardiomegaly."),
    ("Lungs are clear.", "Lungs are clear."),
    ("Interval increase in right-sided pneumothorax.", "No pneumothorax."),
    ("Heart size is stable. Edema has improved.", "Pulmonary edema has improved, heart size unchanged."),
    ("The effusion has resolved", "The previously seen effusion has resolved; no new consolidation."),
    ("Worsening bibasilar atelectasis", "Worsening atelectasis with increased opacity, persistent effusion."),
    ("Enlarged heart, no change.", "UNCHANGED enlarged cardiac silhouette; mildly elevated left hemidiaphragm."),
]


def main(upstream: str) -> None:
    stanza = types.ModuleType("stanza")
    stanza.Pipeline = lambda *a, **k: (lambda text: types.SimpleNamespace(entities=[]))
    sys.modules["stanza"] = stanza
    sys.path.insert(0, upstream)
    import f1temporal

    rows = []
    for prediction, reference in PAIRS:
        result = f1temporal.calculate_tem_score(prediction, reference)
        rows.append({"prediction": prediction, "reference": reference, "f1": result["f1"],
                     "prediction_entities": sorted(result["prediction_entities"]),
                     "reference_entities": sorted(result["reference_entities"])})
    mean = f1temporal.F1Temporal([p for p, _ in PAIRS], [r for _, r in PAIRS])["f1"]
    out = Path(__file__).with_name("radeval_temporal_f1.json")
    out.write_text(json.dumps({"radeval_commit": "e0a39097e7788b6d0a229432add96c63ea60d62f", "pairs": rows,
                               "mean_f1": mean}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
