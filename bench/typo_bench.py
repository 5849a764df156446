"""How long each command takes to answer a mistyped recipe key or data path (exit 2), in a fresh interpreter.

    python bench/typo_bench.py [--repeat 3]

Recipe keys, overrides and data paths are checked before torch or any model library loads; this prints each
command's wall time to the error and whether torch had been imported by then, and writes
bench/results/typo_bench.json. Times depend on the machine and its load (say which in --machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "bench" / "results" / "typo_bench.json"
CASES = {
    "train": ["train", "demo/llava-rad", "--out", "{tmp}/run", "stages.0.lrr=1"],
    "generate": ["generate", "demo/llava-rad", "--data", "{tmp}/none", "--out", "{tmp}/p.jsonl"],
    "compare": ["compare", "demo/llava-rad", "--out", "{tmp}/c", "trainer.max_stepz=1"],
    "build": ["build", "demo/llava-rad", "encoder.nme=x"],
    "serve": ["serve", "demo/llava-rad", "generation.max_new_tokenz=3"],
    "recipe show": ["recipe", "show", "demo/llava-rad", "stages.0.lrr=1"],
}
PROBE = ("import sys; from radzoo.cli import main; code = main(sys.argv[1:]); "
         "print('TORCH', 'torch' in sys.modules, file=sys.stderr); sys.exit(code)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--machine", default=f"{platform.machine()}, {platform.system()}")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in CASES.items():
            times, torch_loaded, codes = [], set(), set()
            for _ in range(args.repeat):
                began = time.perf_counter()
                done = subprocess.run([sys.executable, "-c", PROBE, *(w.format(tmp=tmp) for w in argv)],
                                      capture_output=True, text=True)
                times.append(time.perf_counter() - began)
                codes.add(done.returncode)
                torch_loaded.add("TORCH True" in done.stderr)
            results[name] = {"median_s": round(statistics.median(times), 2), "exit": sorted(codes),
                             "torch_imported": sorted(torch_loaded)}
            print(f"{name:<12} {results[name]['median_s']:5.2f} s  exit {sorted(codes)}  torch {sorted(torch_loaded)}")
    OUT.write_text(json.dumps({"machine": args.machine, "repeat": args.repeat, "commands": results}, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
