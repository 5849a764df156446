"""How much of the findings a label-pre-trained encoder already sees: its label head's CheXpert micro-F1 on a
comparison's test split, next to the report models' (the README's "what it took" figure).

Run: python bench/encoder_probe_bench.py RUN_DIR [OUT]
RUN_DIR: an encoder pre-training run (radzoo-demo/encoder-pretraining/<name>-<hash>); OUT: the
comparison whose learned rows are listed alongside (default radzoo-demo). Writes bench/results/encoder_probe.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from radzoo.comparison.viewer.comparison_files import test_studies
from radzoo.data.images import load_image
from radzoo.data.labels import CHEXPERT_OBSERVATIONS
from radzoo.files.weight_files import load_weights
from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS, label_reports
from radzoo.runs.layout import WEIGHTS_FILE
from radzoo.runs.open import open_model

RESULTS = Path(__file__).parent / "results" / "encoder_probe.json"


def _positive(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[v in (1.0, -1.0) for v in row] for row in rows])


def _f1(pred: np.ndarray, ref: np.ndarray) -> float:
    tp, fp, fn = (pred & ref).sum(), (pred & ~ref).sum(), (~pred & ref).sum()
    return float(2 * tp / max(1, 2 * tp + fp + fn))


def main(run_dir: str, out_dir: str = "radzoo-demo") -> dict:
    torch.set_num_threads(1)
    run, out = Path(run_dir), Path(out_dir)
    model, _ = open_model(run)
    head = {k.split(".", 1)[1]: v for k, v in load_weights(run / WEIGHTS_FILE).items() if k.startswith("encoder_head.")}
    model.encoder_head = torch.nn.Linear(head["weight"].shape[1], head["weight"].shape[0])
    model.encoder_head.load_state_dict(head)
    model.eval()
    studies = test_studies(out)
    transform = model.encoder.image_transform(False)
    with torch.no_grad():
        pixels = torch.stack([transform(load_image(s.image)) for s in studies])
        probs = model.encoder_head(model.encoder(pixels).mean(dim=1)).sigmoid().numpy()
    order = [list(CHEXPERT_OBSERVATIONS).index(o) for o in OBSERVATIONS]
    probe, ref = probs[:, order] > 0.5, _positive(label_reports([s.report or "" for s in studies]))
    board = json.loads((out / "leaderboard.json").read_text())
    result = {"encoder_run": str(run), "test_studies": len(studies),
              "probe_micro_f1_14": round(_f1(probe, ref), 3),
              "probe_f1_per_observation": {o: round(_f1(probe[:, k], ref[:, k]), 3) for k, o in enumerate(OBSERVATIONS)
                                           if ref[:, k].any()},
              "report_models_micro_f1_14": {r["name"]: round(r["metrics"]["chexpert_micro_f1_14"]["value"], 3)
                                            for r in board["rows"]},
              "note": "label head on mean-pooled patch tokens, threshold 0.5, uncertain counted positive, "
                      "against the CheXpert labels of the reference reports"}
    print(json.dumps(result, indent=2))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:3])
