"""Training speed and memory of the tiny demo recipes, with and without the frozen-encoder feature cache.

Each (recipe, cache) run is its own process, so its peak memory (CPU RSS, or CUDA peak allocation on a
GPU) is its own. Every stage runs ``--steps`` optimizer steps of ``--batch`` synthetic studies.

Where a GPU is present (or with ``--gpu-path-on-cpu``, shrunken, to check the code path) it also trains a
real-size LLaVA-Rad-shaped model with random bf16 weights (ViT-B/14 @518, 1369 image tokens, mlp2x_gelu,
Llama-7B config, LoRA r 64 on all projections, gradient checkpointing): samples/s, tokens/s and peak memory
of the align stage (adapter only) and the finetune stage (adapter + LoRA).

Run: python bench/train_bench.py  (writes bench/results/train_bench.json and, on a GPU, train_gpu.json)
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

sys.path.insert(0, str(Path(__file__).parent))  # shaped_models beside this script

RECIPES = ("demo/llava-rad", "demo/cxr-llava", "demo/slava-cxr")
RESULT = Path(__file__).parent / "results" / "train_bench.json"
GPU_RESULT = Path(__file__).parent / "results" / "train_gpu.json"
REPORT = ("The heart size is mildly enlarged. There is a small right pleural effusion with adjacent basilar "
          "atelectasis. No pneumothorax. The left lung is clear. A right internal jugular line ends in the SVC. ")


def one_run(recipe: str, cache: bool, data: Path, steps: int, batch: int, out: Path) -> dict:
    """Train ``recipe`` in this process and return per-stage samples/s and the process's peak memory."""
    import torch

    from radzoo.recipe.load import load_recipe
    from radzoo.training.pipeline import train

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


def shaped_training(device: str, small: bool, batch: int, steps: int, report_tokens: int = 128) -> dict:
    """Train steps of the LLaVA-Rad-shaped model per stage: samples/s, tokens/s and peak memory."""
    import torch
    from shaped_models import SHAPES, shaped_model

    from radzoo.model.prompting import encode_example
    from radzoo.training.trainer import enable_gradient_checkpointing

    size = SHAPES["llava-rad-shaped"][1]
    model = shaped_model("llava-rad-shaped", "mlp2x_gelu", {}, device, torch.bfloat16, small, lora_r=8 if small else 64)
    enable_gradient_checkpointing(model)
    row = encode_example(model.tokenizer, model.prompt, REPORT * 8, indication="dyspnoea",
                         max_answer_tokens=report_tokens)
    ids = torch.tensor([row["input_ids"]] * batch, device=device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
              "labels": torch.tensor([row["labels"]] * batch, device=device),
              "pixel_values": torch.randn(batch, 3, size, size, device=device, dtype=torch.bfloat16)}
    seq_tokens = ids.shape[1] - 1 + model.image_token_count  # the <image> placeholder becomes the image tokens
    result = {"model": "llava-rad-shaped+mlp2x_gelu (Llama-7B config, LoRA r 64)", "dtype": "bf16",
              "gradient_checkpointing": True, "batch_size": batch, "sequence_tokens": seq_tokens,
              "image_tokens": model.image_token_count, "steps_timed": steps, "stages": {}}
    for stage, parts in (("align", ["adapter"]), ("finetune", ["adapter", "lora"])):
        model.set_trainable(parts)
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-4)
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        losses = []
        for step in range(steps + 2):  # two warm-up steps
            if step == 2:
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                began = time.perf_counter()
            loss = model(**inputs).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach().item())
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - began
        cell = {"trainable_params": sum(p.numel() for p in trainable),
                "samples_per_s": round(batch * steps / seconds, 2),
                "tokens_per_s": round(batch * steps * seq_tokens / seconds, 1),
                "seconds_per_step": round(seconds / steps, 3), "first_loss": round(losses[0], 3),
                "last_loss": round(losses[-1], 3)}
        if device.startswith("cuda"):
            cell["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        result["stages"][stage] = cell
        print(f"  {stage:8s} batch {batch}: {json.dumps(cell)}", flush=True)
        del optimizer
    return result


def gpu_main(small: bool, batches: list[int], steps: int) -> dict:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    runs = []
    for batch in batches:
        try:
            runs.append(shaped_training(device, small, batch, steps))
        except torch.OutOfMemoryError as exc:  # record the limit instead of losing the batches that fitted
            runs.append({"batch_size": batch, "error": f"out of memory: {str(exc).splitlines()[0]}"})
            torch.cuda.empty_cache()
    result = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu (code-path check)",
              "torch": torch.__version__, "runs": runs}
    if device == "cuda":
        GPU_RESULT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {GPU_RESULT}")
    return result


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per stage")
    parser.add_argument("--batch", type=int, default=8, help="batch size per step")
    parser.add_argument("--n", type=int, default=64, help="synthetic studies")
    parser.add_argument("--gpu-only", action="store_true", help="only the real-size GPU part")
    parser.add_argument("--gpu-path-on-cpu", action="store_true", help="run the GPU part shrunken on CPU")
    parser.add_argument("--gpu-batches", default="4,16", help="batch sizes of the real-size GPU part")
    parser.add_argument("--one", nargs=2, metavar=("RECIPE", "CACHE"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # child process: one measured run, result as the last stdout line
        print(json.dumps(one_run(args.one[0], args.one[1] == "1", args.data, args.steps, args.batch, args.out)))
        return {}
    import torch

    from radzoo.data.synthetic import generate

    if torch.cuda.is_available() or args.gpu_path_on_cpu:
        print("real-size LLaVA-Rad-shaped training, random bf16 weights" if torch.cuda.is_available() else
              "GPU part, shrunken, on CPU (code-path check only; figures mean nothing)")
        gpu_main(not torch.cuda.is_available(), [int(b) for b in args.gpu_batches.split(",")],
                 steps=5 if torch.cuda.is_available() else 2)
    if args.gpu_only:
        return {}
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
