"""Training speed and memory of the tiny demo recipes, with and without the frozen-encoder feature cache.

Each (recipe, cache) run is its own process, so its peak memory (CPU RSS, or CUDA peak allocation on a
GPU) is its own. Every stage runs ``--steps`` optimizer steps of ``--batch`` synthetic studies.

Run: python bench/train_bench.py  (writes bench/results/train_bench.json)
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPES = ("demo/llava-rad", "demo/cxr-llava", "demo/slava-cxr")
RESULT = Path(__file__).parent / "results" / "train_bench.json"


def one_run(recipe: str, cache: bool, data: Path, steps: int, batch: int, out: Path) -> dict:
    """Train ``recipe`` in this process and return per-stage samples/s and the process's peak memory."""
    import torch

    from radzoo.recipe import load_recipe
    from radzoo.train import train

    torch.set_num_threads(1)
    stage_cfgs = load_recipe(recipe).stages
    n_stages = len(stage_cfgs)
    overrides = ["data.format=synthetic", f"data.path={data}", "trainer.progress_bar=false",
                 f"trainer.feature_cache={str(cache).lower()}", "trainer.checkpoint_every_n_steps=0"]
    for i in range(n_stages):
        overrides += [f"stages.{i}.max_steps={steps}", f"stages.{i}.batch_size={batch}"]
    began = time.perf_counter()
    result = train(recipe, out, overrides=overrides)
    wall = time.perf_counter() - began
    peak = {"cpu_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if torch.cuda.is_available():
        peak["cuda_peak_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    stages = {s.name: {"samples_per_s": round(s.samples / s.seconds, 1), "seconds": round(s.seconds, 2),
                       "start_loss": round(s.start_loss, 4), "end_loss": round(s.end_loss, 4),
                       "from_cached_features": cache and "encoder" not in c.trainable}
              for s, c in zip(result.stages, stage_cfgs)}
    samples = sum(s.samples for s in result.stages)
    # wall time includes building the model, filling the feature cache and each stage's Trainer set-up
    return {"recipe": recipe, "feature_cache": cache, "stages": stages, "wall_seconds": round(wall, 2),
            "samples_per_s_overall": round(samples / wall, 1), **peak}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per stage")
    parser.add_argument("--batch", type=int, default=8, help="batch size per step")
    parser.add_argument("--n", type=int, default=64, help="synthetic studies")
    parser.add_argument("--one", nargs=2, metavar=("RECIPE", "CACHE"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # child process: one measured run, result as the last stdout line
        print(json.dumps(one_run(args.one[0], args.one[1] == "1", args.data, args.steps, args.batch, args.out)))
        return {}
    import torch

    from radzoo.data.synthetic import generate

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "synthetic"
        generate(data, args.n, seed=0)
        for recipe in RECIPES:
            for cache in (False, True):
                out = Path(tmp) / f"{recipe.replace('/', '-')}-{int(cache)}"
                cmd = [sys.executable, __file__, "--one", recipe, str(int(cache)), "--data", str(data),
                       "--out", str(out), "--steps", str(args.steps), "--batch", str(args.batch)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"{recipe} (feature cache {cache}) failed:\n{proc.stderr[-3000:]}")
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                runs.append(run)
                stages = ", ".join(f"{name} {s['samples_per_s']:.0f}/s" for name, s in run["stages"].items())
                memory = run.get("cuda_peak_allocated_mib", run["cpu_peak_rss_mib"])
                print(f"{recipe:16} cache={'on ' if cache else 'off'} {stages}; overall "
                      f"{run['samples_per_s_overall']:.1f} samples/s, peak {memory:.0f} MiB", flush=True)
    result = {"machine": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (1 thread)",
              "steps_per_stage": args.steps, "batch_size": args.batch, "studies": args.n, "runs": runs}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULT}")
    return result


if __name__ == "__main__":
    main()
