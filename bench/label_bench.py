"""Speed of the offline evaluation path: labeler reports/s and 500-resample bootstrap time per metric.

The labeler figure is the best of 5 runs, as wall-clock reports/s and as reports per CPU-second of this one
process (the one-core figure that holds on a machine busy with other jobs; the load average is recorded).

Run: python bench/label_bench.py  (writes bench/results/label_bench.json)
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from pathlib import Path

import torch

from radzoo.evaluation.pipeline import DEFAULT_METRICS, create_evaluator
from radzoo.evaluation.statistics import bootstrap_ci
from radzoo.plugins.evaluators.chexpert_labeler import label_reports

SENTENCES = [
    "The heart is mildly enlarged.", "Moderate cardiomegaly.", "Small left pleural effusion.", "No pneumothorax.",
    "Right lower lobe consolidation.", "Possible early pneumonia.", "Mild pulmonary edema.",
    "Bibasilar atelectasis.", "2 cm nodule in the right upper lobe.", "The lungs are clear.",
    "Heart size is normal.", "The endotracheal tube terminates 4 cm above the carina.",
    "No focal consolidation, pleural effusion, or pneumothorax.", "Pneumonia cannot be excluded.",
    "The cardiomediastinal silhouette is within normal limits.", "No acute osseous abnormality.",
]
PAIRS, RESAMPLES = 2000, 500


def synthetic_reports(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(SENTENCES, rng.randint(3, 7))) for _ in range(n)]


def main() -> dict:
    torch.set_num_threads(1)
    reports = synthetic_reports(0, 5000)
    label_reports(reports[:200])  # compile and warm the caches outside the timing
    wall, cpu = [], []
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.process_time()
        label_reports(reports)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    labeler_seconds = min(wall)
    result = {
        "machine": platform.platform(), "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
        "labeler": {"reports": len(reports), "seconds": round(labeler_seconds, 3),
                    "reports_per_second": round(len(reports) / labeler_seconds, 1),
                    "reports_per_cpu_second": round(len(reports) / min(cpu), 1),
                    "mean_words": round(sum(len(r.split()) for r in reports) / len(reports), 1)},
        "bootstrap": {"pairs": PAIRS, "resamples": RESAMPLES, "metrics": {}},
    }
    print(f"labeler: {result['labeler']['reports_per_second']:.0f} reports/s wall, "
          f"{result['labeler']['reports_per_cpu_second']:.0f} reports per CPU-second (1 core, "
          f"{result['labeler']['mean_words']} words/report, load average {result['load_average_1min']})")
    predictions, references = synthetic_reports(1, PAIRS), synthetic_reports(2, PAIRS)
    for name in DEFAULT_METRICS:
        evaluator = create_evaluator(name)
        start, start_cpu = time.perf_counter(), time.process_time()
        stats = evaluator.sample_stats(predictions, references)
        stats_seconds, stats_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        start = time.perf_counter()
        bootstrap_ci(evaluator, stats, resamples=RESAMPLES, seed=0)
        boot_seconds = time.perf_counter() - start
        result["bootstrap"]["metrics"][name] = {"sample_stats_seconds": round(stats_seconds, 3),
                                                "sample_stats_cpu_seconds": round(stats_cpu, 3),
                                                "bootstrap_seconds": round(boot_seconds, 3)}
        print(f"{name:10s} sample stats {stats_seconds:6.2f} s ({stats_cpu:5.2f} CPU-s)   "
              f"bootstrap x{RESAMPLES} {boot_seconds:6.2f} s")
    out = Path(__file__).parent / "results" / "label_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
