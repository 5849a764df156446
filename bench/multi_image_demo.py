"""Does reading the lateral view and the prior study help? demo-multi-image vs the frontal-only demo-llava-rad.

Runs (or resumes) `radzoo demo --multi-image`: the synthetic studies with laterals and priors, the shared encoder
pre-training, both recipes trained and scored against ``report_vs_prior`` (the report plus change sentences), then
scores both rows again with the temporal metrics, every metric with a 95% bootstrap CI and a paired bootstrap test
(multi-image minus frontal-only), and writes bench/results/multi_image_demo.json and .md.

    .venv/bin/python bench/multi_image_demo.py --out radzoo-demo-multi [--studies 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from radzoo.comparison.demo import MULTI_IMAGE_RECIPES, DemoSize, run_demo
from radzoo.comparison.viewer.comparison_files import read_comparison
from radzoo.evaluation.pipeline import evaluate, paired_test

RESULTS = Path(__file__).parent / "results"
METRICS = ("chexpert", "temporal", "bleu", "rouge_l")
SHOWN = ("chexpert_micro_f1_14", "chexpert_micro_f1_5", "temporal_change_f1", "temporal_f1", "bleu_4", "rouge_l")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="radzoo-demo-multi")
    parser.add_argument("--studies", type=int, default=3000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    began = time.perf_counter()
    result = run_demo(args.out, size=DemoSize(studies=args.studies, multi_image=True), recipes=MULTI_IMAGE_RECIPES)
    comparison = read_comparison(result.out_dir)
    ids = [str(s.id) for s in comparison.studies]
    references = [s.report or "" for s in comparison.studies]
    with_prior = [i for i, s in enumerate(comparison.studies) if s.prior is not None]
    rows = {}
    for name, predictions in comparison.predictions.items():
        texts = [predictions[i] for i in ids]
        scored = evaluate(texts, references, metrics=list(METRICS), bootstrap=args.bootstrap, per_sample=False)
        rows[name] = {m: scored["metrics"][m] for m in SHOWN}
    frontal, multi = ("demo-llava-rad", "demo-multi-image")
    a, b = ([comparison.predictions[n][i] for i in ids] for n in (frontal, multi))
    paired = paired_test(a, b, references, metrics=list(METRICS), resamples=args.bootstrap)
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores shared with 7 other engineers' jobs (loaded)",
           "command": f"radzoo demo --multi-image --studies {args.studies} --out {args.out}",
           "test_studies": len(ids), "test_studies_with_prior": len(with_prior),
           "reference": "report_vs_prior (report + change sentences)", "rows": rows,
           "paired_multi_minus_frontal": {m: paired[m] for m in SHOWN if m in paired},
           "seconds_this_call": round(time.perf_counter() - began, 1)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "multi_image_demo.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [f"# demo-multi-image vs demo-llava-rad ({out['machine']})", "",
             f"`{out['command']}`: {len(ids)} test studies ({len(with_prior)} with a prior), scored against "
             "`report_vs_prior`; 95% bootstrap CIs; p: paired bootstrap test.", "",
             "| metric | " + " | ".join(rows) + " | multi − frontal (p) |", "|---" * (len(rows) + 2) + "|"]
    for m in SHOWN:
        cells = [f"{rows[n][m]['value']:.3f} [{rows[n][m]['ci'][0]:.3f}, {rows[n][m]['ci'][1]:.3f}]" for n in rows]
        delta = out["paired_multi_minus_frontal"].get(m)
        lines.append(f"| {m} | " + " | ".join(cells) + " | "
                     + (f"{delta['delta']:+.3f} (p={delta['p_value']:.3f})" if delta else "–") + " |")
    (RESULTS / "multi_image_demo.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
