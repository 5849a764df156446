"""Synthetic CXR generator: images per minute on one core, and a labelled contact sheet of examples.

Writes bench/results/synthetic_bench.json and bench/results/synthetic_examples.png.
Run: python bench/synthetic_bench.py [--n 300] [--image-size 128]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=128)
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
    (RESULTS / "synthetic_bench.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    contact_sheet(RESULTS / "synthetic_examples.png", size=args.image_size)
    print(f"contact sheet: {RESULTS / 'synthetic_examples.png'}")


if __name__ == "__main__":
    main()
