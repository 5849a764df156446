"""Synthetic CXR generator: images per minute on one core, a labelled contact sheet of examples and,
with --learnability, the test AUC per finding of a tiny CNN trained on 2000 images at 64 px (~1 min).

Writes bench/results/synthetic_bench.json and bench/results/synthetic_examples.png.
Run: python bench/synthetic_bench.py [--n 300] [--image-size 128] [--learnability]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from radzoo.data.synthetic import generate, render_study
from radzoo.data.synthetic.findings import FINDINGS

RESULTS = Path(__file__).resolve().parent / "results"


def caption(truth: dict) -> str:
    """A short caption naming the finding on a contact-sheet tile."""
    parts = []
    for name in FINDINGS:
        entry = truth[name]
        if entry:
            detail = entry.get("severity") or entry.get("size") or entry.get("lobe") or ""
            side = entry.get("side", "")
            parts.append(" ".join(p for p in (name.replace("_", " "), side, str(detail)) if p))
    return "; ".join(parts) or "normal"


def contact_sheet(path: Path, size: int = 128, per_finding: int = 3) -> None:
    """A grid: one row of normals, then a row per finding with examples where it is the only finding."""
    rows: list[list[tuple]] = []
    wanted = ["normal", *FINDINGS]
    found: dict[str, list] = {w: [] for w in wanted}
    for i in range(5000):
        s = render_study(i, seed=0, image_size=size)
        present = [f for f in FINDINGS if s.truth[f]]
        key = "normal" if not present else present[0] if len(present) == 1 else None
        if key and len(found[key]) < per_finding:
            found[key].append(s)
        if all(len(v) == per_finding for v in found.values()):
            break
    rows = [found[w] for w in wanted]
    tile, text_h = size * 2, 14
    sheet = Image.new("L", (tile * per_finding, (tile + text_h) * len(rows)), 0)
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        for c, s in enumerate(row):
            x, y = c * tile, r * (tile + text_h)
            sheet.paste(Image.fromarray(s.pixels).resize((tile, tile), Image.BICUBIC), (x, y))
            draw.text((x + 2, y + tile + 1), caption(s.truth)[:42], fill=255)
    sheet.save(path)


def learnability(train: int = 2000, test: int = 400, size: int = 64, epochs: int = 12) -> dict[str, float]:
    """Test AUC per finding of a 3-layer CNN trained from pixels (how learnable the findings are)."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    studies = [render_study(i, seed=0, image_size=size) for i in range(train + test)]
    x = torch.tensor(np.stack([s.pixels for s in studies])[:, None] / 255.0, dtype=torch.float32)
    y = torch.tensor([[float(bool(s.truth[f])) for f in FINDINGS] for s in studies])
    conv = [torch.nn.Conv2d(c_in, c_out, 3, 2, 1) for c_in, c_out in ((1, 16), (16, 32), (32, 32))]
    net = torch.nn.Sequential(*[m for c in conv for m in (c, torch.nn.ReLU())], torch.nn.AdaptiveAvgPool2d(4),
                              torch.nn.Flatten(), torch.nn.Linear(512, len(FINDINGS)))
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    for _ in range(epochs):
        for idx in torch.randperm(train).split(64):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        scores = net(x[train:]).sigmoid().numpy()
    labels = y[train:].numpy()
    aucs = {}
    for j, name in enumerate(FINDINGS):
        pos, neg = scores[labels[:, j] == 1, j], scores[labels[:, j] == 0, j]
        aucs[name] = round(float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()), 3)
    return aucs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--learnability", action="store_true", help="also train a tiny CNN and report AUCs")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(tmp, args.n, seed=0, image_size=args.image_size)
        seconds = time.perf_counter() - start
    rate = args.n / seconds * 60
    print(f"generated {args.n} studies at {args.image_size} px in {seconds:.2f} s: {rate:,.0f} images/min (one core)")
    record = {"n": args.n, "image_size": args.image_size, "seconds": round(seconds, 3),
              "images_per_minute": round(rate), "machine": platform.processor() or platform.machine()}
    if args.learnability:
        record["tiny_cnn_test_auc_64px"] = learnability()
        print("tiny CNN test AUC per finding (64 px, 2000 train images):", record["tiny_cnn_test_auc_64px"])
    (RESULTS / "synthetic_bench.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    contact_sheet(RESULTS / "synthetic_examples.png", size=args.image_size)
    print(f"contact sheet: {RESULTS / 'synthetic_examples.png'}")


if __name__ == "__main__":
    main()
