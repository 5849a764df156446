"""Do the demo's portable kernels give the same bits whatever vector kernels the CPU offers? One machine's check.

    python bench/demo_portability.py [--studies 200] [--steps 12] [--machine "..."]

Runs a short real piece of the demo in a fresh process per variant: the synthetic set (numpy), a few training
steps of demo/llava-rad on it (its frozen ViT encoder, projector and LoRA Llama) and greedy reports for some of
its test studies; plus single ops (softmax, matmul, conv2d, gelu) to say which library moved. Each variant
simulates another CPU on this one by capping what the libraries may use (ATEN_CPU_CAPABILITY for torch's own
kernels, MKL_ENABLE_INSTRUCTIONS for MKL, ONEDNN_MAX_CPU_ISA for oneDNN, NPY_DISABLE_CPU_FEATURES for numpy), once
with native kernels and once with radzoo's portable pins (radzoo.cpu_kernels). Writes
bench/results/demo_portability.json: per variant the hashes, the kernels in effect and the seconds taken, and
whether the native variants differ and the portable ones agree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "demo_portability.json"
NO_AVX512_NUMPY = "X86_V4 AVX512_ICL AVX512_SPR"
# another CPU, simulated here by capping what each library may use on this one
MACHINES = {
    "this CPU": {},
    "torch kernels at AVX2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "MKL at AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "MKL at AVX (another MKL code path)": {"MKL_ENABLE_INSTRUCTIONS": "AVX"},
    "AVX2-only CPU (every library capped)": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                                             "ONEDNN_MAX_CPU_ISA": "AVX2", "NPY_DISABLE_CPU_FEATURES": NO_AVX512_NUMPY},
    "torch kernels at AVX-512, MKL at AVX-512": {"ATEN_CPU_CAPABILITY": "avx512", "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
}
PINS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "NPY_DISABLE_CPU_FEATURES")


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def _tree_digest(folder: Path, suffixes: tuple[str, ...]) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes)
    return _digest(*(p.relative_to(folder).as_posix().encode() + p.read_bytes() for p in files))


def _tensor_digest(files: list[Path]) -> str:
    """The tensors of safetensors files, by content (their metadata names the temporary folder)."""
    from safetensors.numpy import load_file

    digests = sorted(_digest(*(k.encode() + v.tobytes() for k, v in sorted(load_file(f).items()))) for f in files)
    return _digest(*(d.encode() for d in digests))


def child(kernels: str, studies: int, steps: int) -> dict:
    """One variant, in this (fresh) process: pins first, then torch and numpy load."""
    from radzoo import cpu_kernels

    cpu_kernels.pin(kernels)
    import torch

    from radzoo import api
    from radzoo.data.synthetic import generate

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(64, 96)
    image = torch.randn(2, 3, 32, 32)
    with cpu_kernels.scope(kernels):
        ops = {"softmax": torch.softmax(x, -1), "matmul": x @ x.T,
               "conv2d": torch.nn.functional.conv2d(image, torch.randn(8, 3, 5, 5)),
               "gelu": torch.nn.functional.gelu(x)}
        result = {"ops": {k: _digest(v.contiguous().numpy().tobytes()) for k, v in ops.items()}}
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            data = generate(Path(tmp) / "data", studies, 0, 64)
            result["synthetic_set"] = _tree_digest(data, (".png", ".csv", ".json"))
            data_overrides = [f"data.path={data}", "data.format=synthetic", f"trainer.max_steps_per_stage={steps}"]
            api.train("demo/llava-rad", Path(tmp) / "run", overrides=data_overrides, threads=1)
            features = sorted((Path(tmp) / "run" / "feature_cache").rglob("*.safetensors"))
            result["encoder_features"] = _tensor_digest(features)
            result["weights"] = _tensor_digest([Path(tmp) / "run" / "model.safetensors"])
            preds = Path(tmp) / "preds.jsonl"
            api.generate(Path(tmp) / "run", out=preds, overrides=[f"data.path={data}", "data.format=synthetic"],
                         threads=1)
            reports = [json.loads(line)["prediction"] for line in preds.read_text(encoding="utf-8").splitlines()]
            result["reports"] = _digest(json.dumps(reports).encode())
            result["n_reports"] = len(reports)
            result["seconds"] = round(time.perf_counter() - began, 1)
    result["in_effect"] = cpu_kernels.in_effect(kernels)
    return result


def variant(kernels: str, machine: dict[str, str], studies: int, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    env.update(machine)
    done = subprocess.run([sys.executable, __file__, "--child", kernels, "--studies", str(studies),
                           "--steps", str(steps)], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{kernels} / {machine}: failed\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--steps", type=int, default=12, help="training steps per stage (align, finetune)")
    parser.add_argument("--machine", default=f"{platform.machine()}, {platform.processor() or platform.system()}")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", choices=("portable", "native"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.studies, args.steps)))
        return
    keys = ("synthetic_set", "encoder_features", "weights", "reports")
    runs: dict[str, dict[str, dict]] = {"native": {}, "portable": {}}
    for kernels in runs:
        for name, machine in MACHINES.items():
            runs[kernels][name] = {"simulated_by": machine, **variant(kernels, machine, args.studies, args.steps)}
            r = runs[kernels][name]
            print(f"{kernels:<8} {name:<42} " + " ".join(f"{k} {r[k]}" for k in keys)
                  + f"  ops {'/'.join(r['ops'].values())}  {r['seconds']} s", flush=True)
    summary = {}
    for kernels, variants in runs.items():
        base = variants["this CPU"]
        summary[kernels] = {name: [k for k in (*keys, *(f"op {o}" for o in base["ops"]))
                                   if (r[k] if k in r else r["ops"][k[3:]]) != (base[k] if k in base
                                                                                 else base["ops"][k[3:]])]
                            for name, r in variants.items() if name != "this CPU"}
    result = {"machine": args.machine, "studies": args.studies, "steps_per_stage": args.steps,
              "what": "synthetic set (numpy) + demo/llava-rad trained a few steps per stage + greedy reports on its "
                      "test studies, one fresh process per variant, 1 torch thread",
              "differs_from_this_cpu": summary,
              "native_differs": any(summary["native"].values()),
              "portable_identical": not any(summary["portable"].values()), "runs": runs}
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))
    print(f"native differs: {result['native_differs']}; portable identical: {result['portable_identical']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
