"""How long `radzoo build RECIPE` takes to say which weights are missing, with the hub unreachable.

Each bundled reference recipe is built in a fresh process with ``HF_HUB_OFFLINE=1`` (and once with the hub
endpoint refusing connections, offline mode unset) against an empty Hugging Face cache; the wall time to the
error (exit 2) is the median of ``--repeats`` runs. Goal (issue 11): under 2 s, every missing part named at once.

    python bench/missing_weights_bench.py          # writes bench/results/missing_weights.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "missing_weights.json"
RECIPES = ("llava-rad", "cxr-llava", "slava-cxr", "maira-1", "llava-rad-mistral")


def _refused_endpoint() -> str:
    with socket.socket() as s:  # bound then released: nothing listens there
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def time_build(recipe: str, env: dict[str, str]) -> tuple[float, int, str]:
    """(seconds, exit code, first stderr line) of one `radzoo build RECIPE --no-smoke`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "radzoo.cli", "build", recipe, "--no-smoke"], env=env,
                          capture_output=True, text=True, timeout=600)
    return time.perf_counter() - start, done.returncode, (done.stderr.strip().splitlines() or [""])[0]


def main(repeats: int) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as hf_home:
        base = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
        base.update(HF_HOME=hf_home, HF_HUB_CACHE=str(Path(hf_home) / "hub"))
        modes = {"HF_HUB_OFFLINE=1": {**base, "HF_HUB_OFFLINE": "1"},
                 "endpoint refused": {**base, "HF_ENDPOINT": _refused_endpoint()}}
        for mode, env in modes.items():
            for recipe in RECIPES:
                runs = [time_build(recipe, env) for _ in range(repeats)]
                median = round(statistics.median(r[0] for r in runs), 2)
                rows.append({"recipe": recipe, "mode": mode, "median_s": median,
                             "runs_s": [round(r[0], 2) for r in runs], "exit_code": runs[-1][1],
                             "parts_named": runs[-1][2].count("cannot load")})
                print(f"{recipe:18} {mode:17} {rows[-1]['median_s']:5.2f} s  exit {rows[-1]['exit_code']}  "
                      f"parts named {rows[-1]['parts_named']}")
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)", "python": platform.python_version(),
              "repeats": repeats, "rows": rows}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
