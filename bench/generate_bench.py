"""Report-generation throughput: per-image loop vs batched, hf vs radzoo engine (CPU, tiny recipes) and
paper-shaped models on a GPU.

CPU part (always): the three demo recipes, reports/s and tokens/s for batch 1 (the per-image loop of
LLaVA-Rad's inference script) vs batch 8 and 32 on the hf engine, outputs asserted identical. Target:
batched >= 5x. Then the engines: hf vs radzoo at batch 1 and 32, timed in alternation (rounds of hf,
radzoo, ...) so that both see the same machine load (recorded beside them), outputs asserted equal.
Target: radzoo >= 2x at batch 1 and at batch 32.

GPU part (only when torch.cuda.is_available()): LLaVA-Rad-shaped (ViT-B/14 @518, 1369 tokens,
mlp2x_gelu, Llama-7B config) and SLaVA-shaped (ViT-L/14 @336, 576 tokens, Phi-2 config) models with
RANDOM bf16 weights (throughput does not depend on the values): decode tokens/s at batch 1 as a fraction of
the HBM roofline, reports/s at batch 32 with 256 new tokens vs the loop, peak memory, time-to-first-token,
and token-reducing adapters (mlp2x_gelu_pool, perceiver) vs the full image-token count.
`--gpu-path-on-cpu` runs the GPU part with shrunken configs on CPU to check the code path.

    python bench/generate_bench.py            # writes bench/results/generate_cpu.json (+ generate_gpu.json)
    python bench/generate_bench.py --only engines   # re-measure the engine table; other rows are kept
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from shaped_models import shaped_model

from radzoo.data.study import Study
from radzoo.generation.pipeline import ReportGenerator
from radzoo.recipe.decode_settings import DecodeSettings
from radzoo.runs.open import open_model

RESULTS = Path(__file__).parent / "results"
DEMO_RECIPES = ("demo/llava-rad", "demo/slava-cxr", "demo/cxr-llava")


def synthetic_studies(folder: Path, n: int, indications: bool = True) -> list[Study]:
    """``n`` noise-image studies; without ``indications`` every prompt has the same length (one compiled graph)."""
    rng = np.random.default_rng(0)
    studies = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray((rng.random((96, 96)) * 255).astype("uint8")).save(path)
        indication = ["cough", None, "fever, dyspnoea"][i % 3] if indications else None
        studies.append(Study(id=f"b{i}", image=str(path), indication=indication))
    return studies


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed_generation(run: ReportGenerator, studies: list[Study], batch: int, device: str = "cpu"):
    """(predictions, seconds, generated tokens) for ``studies`` in batches of ``batch``."""
    pad = run.model.tokenizer.pad_token_id
    predictions, tokens = [], 0
    sync(device)
    start = time.perf_counter()
    for i in range(0, len(studies), batch):
        chunk = studies[i:i + batch]
        ids = run.generate(run.inputs(chunk))
        tokens += int((ids != pad).sum())
        predictions += [r["prediction"] for r in run.records(chunk, ids)]
    sync(device)
    return predictions, time.perf_counter() - start, tokens


def cpu_part(n_studies: int, max_new_tokens: int) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        studies = synthetic_studies(Path(tmp), n_studies)
        for recipe in DEMO_RECIPES:
            model, cfg = open_model(recipe, overrides=[f"generation.max_new_tokens={max_new_tokens}"])
            run = ReportGenerator(model, DecodeSettings.from_recipe(cfg.generation).replace(engine="hf"), cfg.name)
            run(studies[:2])  # warm-up
            rows, reference = {}, None
            for batch in (1, 8, 32):
                preds, seconds, tokens = timed_generation(run, studies, batch)
                reference = reference or preds
                rows[f"batch_{batch}"] = {"reports_per_s": round(len(studies) / seconds, 3),
                                          "tokens_per_s": round(tokens / seconds, 1), "seconds": round(seconds, 2),
                                          "identical_to_loop": preds == reference}
                print(f"  {recipe:18s} batch {batch:2d}: {len(studies) / seconds:7.2f} reports/s "
                      f"{tokens / seconds:8.1f} tokens/s  identical={preds == reference}")
            for batch in (8, 32):
                rows[f"batch_{batch}"]["speedup_vs_loop"] = round(
                    rows[f"batch_{batch}"]["reports_per_s"] / rows["batch_1"]["reports_per_s"], 2)
            assert all(r["identical_to_loop"] for r in rows.values()), f"{recipe}: batched outputs differ"
            results[recipe] = rows
    return results


def load_average() -> float:
    """The 1-minute load average (2 cores shared by several people: figures move with it)."""
    return round(os.getloadavg()[0], 2)


def paired_engine_times(runs: dict[str, ReportGenerator], prepared: list, first: int = 0
                        ) -> tuple[dict, dict, dict]:
    """(token ids, seconds, generated tokens) per engine of ``generate`` alone over inputs prepared beforehand.

    The engines take turns batch by batch, in ABBA order (``first``: which one starts), so a change of machine
    load falls on both alike; image reading and text decoding are the same for both and stay out of the time."""
    pad = next(iter(runs.values())).model.tokenizer.pad_token_id
    out, seconds, tokens = ({e: [] for e in runs}, dict.fromkeys(runs, 0.0), dict.fromkeys(runs, 0))
    for i, inputs in enumerate(prepared):
        for engine in (list(runs) if (i + first) % 2 == 0 else list(runs)[::-1]):
            start = time.perf_counter()
            ids = runs[engine].generate(inputs)
            seconds[engine] += time.perf_counter() - start
            tokens[engine] += int((ids != pad).sum())
            out[engine] += ids.tolist()
    return out, seconds, tokens


def engine_part(n_studies: int, max_new_tokens: int, rounds: int, batches: tuple[int, ...] = (1, 32)) -> dict:
    """hf vs radzoo tokens/s per demo recipe and batch (medians over rounds), outputs asserted equal."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        studies = synthetic_studies(Path(tmp), n_studies)
        for recipe in DEMO_RECIPES:
            model, cfg = open_model(recipe, overrides=[f"generation.max_new_tokens={max_new_tokens}"])
            settings = DecodeSettings.from_recipe(cfg.generation)
            runs = {e: ReportGenerator(model, settings.replace(engine=e), cfg.name) for e in ("hf", "radzoo")}
            for run in runs.values():
                run(studies[:2])  # warm-up
            rows = {}
            for batch in batches:
                prepared = [runs["hf"].inputs(studies[i:i + batch]) for i in range(0, len(studies), batch)]
                seconds, loads = {e: [] for e in runs}, [load_average()]
                for round_ in range(rounds):  # even rounds start with hf, odd ones with radzoo
                    out, took, tokens = paired_engine_times(runs, prepared, first=round_)
                    assert out["radzoo"] == out["hf"], f"{recipe} batch {batch}: the engines' tokens differ"
                    for engine in runs:
                        seconds[engine].append(took[engine])
                    loads.append(load_average())
                row = {e: {"tokens_per_s": round(tokens[e] / statistics.median(seconds[e]), 1),
                           "reports_per_s": round(len(studies) / statistics.median(seconds[e]), 3),
                           "seconds_per_round": [round(x, 2) for x in seconds[e]]} for e in runs}
                row["radzoo_speedup"] = round(statistics.median(h / r for h, r in zip(
                    seconds["hf"], seconds["radzoo"], strict=True)), 2)
                row.update(identical=True, load_average_1min=loads)
                rows[f"batch_{batch}"] = row
                print(f"  {recipe:18s} batch {batch:2d}: hf {row['hf']['tokens_per_s']:8.1f} tokens/s  radzoo "
                      f"{row['radzoo']['tokens_per_s']:8.1f} tokens/s  ({row['radzoo_speedup']}x)  load {loads}")
            results[recipe] = rows
    return results


# ----------------------------------------------------------------------------------------------- GPU part
def memory_bandwidth(device: str) -> float:
    """Bytes/s of a large device-to-device copy (each byte read once and written once)."""
    n = (1 << 30) if device.startswith("cuda") else (1 << 26)
    src = torch.empty(n, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    sync(device)
    start = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    sync(device)
    return 2 * n * 10 / (time.perf_counter() - start)


def decode_rate(run: ReportGenerator, studies: list[Study], device: str, new_tokens: int, ttft: float,
                extra: dict) -> tuple[float, float]:
    """(batch-1 decode tokens/s, reports/s of the per-image loop) with ``extra`` decode settings."""
    run.settings = DecodeSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens, **extra)
    timed_generation(run, studies[:1], 1, device)  # warm-up (and, for the static cache, compilation)
    _, loop_s, _ = timed_generation(run, studies, 1, device)
    return (new_tokens - 1) / max(loop_s / len(studies) - ttft, 1e-9), len(studies) / loop_s


def gpu_measures(run: ReportGenerator, studies: list[Study], device: str, new_tokens: int, loop_n: int,
                 bandwidth: float, static_cache: bool, radzoo: bool) -> dict:
    model = run.model
    run.settings = DecodeSettings(max_new_tokens=1, min_new_tokens=1)
    timed_generation(run, studies[:1], 1, device)  # warm-up
    _, ttft, _ = timed_generation(run, studies[:1], 1, device)
    lm_bytes = sum(p.numel() * p.element_size() for p in model.language_model.parameters())
    roofline_tps = bandwidth / lm_bytes
    decode_tps, loop_rate = decode_rate(run, studies[:loop_n], device, new_tokens, ttft, {})
    row = {"image_tokens": model.image_token_count, "ttft_ms": round(ttft * 1e3, 1),
           "roofline_tokens_per_s": round(roofline_tps, 1),
           "decode_tokens_per_s_batch1": round(decode_tps, 1),
           "fraction_of_roofline": round(decode_tps / roofline_tps, 3), "loop_reports_per_s": round(loop_rate, 3)}
    if static_cache:  # static KV cache: transformers compiles the decode step (CUDA graphs) on a GPU
        began = time.perf_counter()
        static_tps, static_rate = decode_rate(run, studies[:loop_n], device, new_tokens, ttft,
                                              {"cache": "static"})
        row.update({"static_cache_decode_tokens_per_s_batch1": round(static_tps, 1),
                    "static_cache_fraction_of_roofline": round(static_tps / roofline_tps, 3),
                    "static_cache_loop_reports_per_s": round(static_rate, 3),
                    "static_cache_compile_and_run_s": round(time.perf_counter() - began, 1)})
    run.settings = DecodeSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _, batch_s, tokens = timed_generation(run, studies[:32], 32, device)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
    row.update({"batch32_reports_per_s": round(32 / batch_s, 3), "batch32_tokens_per_s": round(tokens / batch_s, 1),
                "batch32_speedup_vs_loop": round((32 / batch_s) / loop_rate, 2),
                "peak_memory_gib": round(peak, 2) if peak is not None else None,
                "lm_weight_gib": round(lm_bytes / 2**30, 2)})
    if static_cache:
        row["batch32_speedup_vs_static_loop"] = round((32 / batch_s) / row["static_cache_loop_reports_per_s"], 2)
        run.settings = run.settings.replace(cache="static")
        timed_generation(run, studies[:32], 32, device)  # compiles the batch-32 decode step
        _, static_s, _ = timed_generation(run, studies[:32], 32, device)
        row.update({"static_cache_batch32_reports_per_s": round(32 / static_s, 3),
                    "static_cache_batch32_speedup_vs_static_loop": round(
                        (32 / static_s) / row["static_cache_loop_reports_per_s"], 2)})
    # last, so that its KV cache and CUDA graphs do not count in the hf rows' peak memory
    if radzoo:  # the radzoo engine: one prefill, static cache, CUDA-graph decode step, EOS every 8 tokens
        row.update(radzoo_gpu_measures(run, studies, device, new_tokens, loop_n, roofline_tps))
        if static_cache:
            row["radzoo_batch32_vs_static_cache"] = round(
                row["radzoo_batch32_reports_per_s"] / row["static_cache_batch32_reports_per_s"], 2)
    return row


def radzoo_gpu_measures(run: ReportGenerator, studies: list[Study], device: str, new_tokens: int, loop_n: int,
                        roofline_tps: float) -> dict:
    """TTFT, batch-1 decode (fraction of the roofline) and batch-32 reports/s of the radzoo engine."""
    began = time.perf_counter()
    run.settings = DecodeSettings(max_new_tokens=1, engine="radzoo")
    timed_generation(run, studies[:1], 1, device)
    _, ttft, _ = timed_generation(run, studies[:1], 1, device)
    decode_tps, loop_rate = decode_rate(run, studies[:loop_n], device, new_tokens, ttft, {"engine": "radzoo"})
    run.settings = DecodeSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens, engine="radzoo")
    timed_generation(run, studies[:32], 32, device)  # records the batch-32 graph
    _, batch_s, _ = timed_generation(run, studies[:32], 32, device)
    return {"radzoo_ttft_ms": round(ttft * 1e3, 1), "radzoo_decode_tokens_per_s_batch1": round(decode_tps, 1),
            "radzoo_fraction_of_roofline": round(decode_tps / roofline_tps, 3),
            "radzoo_loop_reports_per_s": round(loop_rate, 3), "radzoo_batch32_reports_per_s": round(32 / batch_s, 3),
            "radzoo_compile_and_run_s": round(time.perf_counter() - began, 1)}


def gpu_part(device: str, small: bool, only: set[str] | None = None) -> dict:
    dtype = torch.bfloat16
    new_tokens, loop_n = (256, 4) if not small else (8, 2)
    bandwidth = memory_bandwidth(device)
    print(f"  measured copy bandwidth: {bandwidth / 1e9:.0f} GB/s")
    results = {"device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu (code-path check)",
               "bandwidth_gb_per_s": round(bandwidth / 1e9, 1), "new_tokens": new_tokens, "models": {}}
    # the static-cache (compiled) decode is measured on the full-token models; the token-reducing adapters are
    # compared with them under the default dynamic cache
    variants = {"llava-rad-shaped": [("mlp2x_gelu", {}, True), ("mlp2x_gelu_pool", {"pool": 2}, False),
                                     ("perceiver", {"num_latents": 64}, False)],
                "slava-shaped": [("mlp2x_gelu", {}, True)]}
    with tempfile.TemporaryDirectory() as tmp:
        studies = synthetic_studies(Path(tmp), 32, indications=False)
        for shape, adapters in variants.items():
            for adapter, args, static_cache in adapters:
                if only and f"{shape}+{adapter}" not in only:
                    continue
                model = shaped_model(shape, adapter, args, device, dtype, small)
                run = ReportGenerator(model, {}, shape)
                row = gpu_measures(run, studies, device, new_tokens, loop_n, bandwidth,
                                   static_cache and device.startswith("cuda"), radzoo=static_cache)
                results["models"][f"{shape}+{adapter}"] = row
                print(f"  {shape}+{adapter}: {json.dumps(row)}")
                del model, run
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--gpu-path-on-cpu", action="store_true", help="run the GPU part shrunken on CPU")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--only", choices=("batching", "engines"), help="CPU: measure one table, keep the other")
    parser.add_argument("--rounds", type=int, default=4, help="CPU engine table: alternating rounds per batch size")
    parser.add_argument("--engine-batches", nargs="+", type=int, default=[1, 32],
                        help="CPU engine table: batch sizes to (re)measure; the other rows already written are kept")
    parser.add_argument("--models", help="comma-separated GPU rows to (re)measure, merged into generate_gpu.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
           "cpu": platform.processor() or platform.machine()}
    if not args.skip_cpu:
        print(f"CPU: {args.studies} studies, {args.max_new_tokens} new tokens, fp32, greedy")
        gpu_note = "GPU part recorded in generate_gpu.json" if torch.cuda.is_available() else \
            "no GPU on the machine that ran this; GPU figures not recorded"
        path = RESULTS / "generate_cpu.json"
        cpu = json.loads(path.read_text()) if path.is_file() else {}  # the tables not re-measured are kept
        if args.only in (None, "batching"):
            cpu.update({"env": env, "note": gpu_note, "studies": args.studies, "max_new_tokens": args.max_new_tokens,
                        "recipes": cpu_part(args.studies, args.max_new_tokens)})
        if args.only in (None, "engines"):
            kept = cpu.get("engines", {}).get("recipes", {})
            measured = engine_part(args.studies, args.max_new_tokens, args.rounds, tuple(args.engine_batches))
            cpu["engines"] = {"env": {**env, "cores": os.cpu_count()}, "studies": args.studies,
                              "max_new_tokens": args.max_new_tokens, "rounds": args.rounds,
                              "note": "generate on prepared inputs (image encoder, prefill, decode; image "
                                      "reading and text decoding excluded); hf and radzoo take turns batch by "
                                      "batch (ABBA) in one process; speedup = median over rounds of hf seconds / "
                                      "radzoo seconds; load_average_1min before and after each round (shared "
                                      "cores)",
                              "recipes": {recipe: {**kept.get(recipe, {}), **rows}
                                          for recipe, rows in measured.items()}}
        path.write_text(json.dumps(cpu, indent=2) + "\n")
    if torch.cuda.is_available():
        print("GPU: paper-shaped models, random bf16 weights")
        only = set(args.models.split(",")) if args.models else None
        gpu = gpu_part("cuda", small=False, only=only)
        path = RESULTS / "generate_gpu.json"
        if only and path.is_file():  # keep the rows not re-measured
            gpu["models"] = {**json.loads(path.read_text())["models"], **gpu["models"]}
        path.write_text(json.dumps({"env": env, **gpu}, indent=2) + "\n")
    elif args.gpu_path_on_cpu:
        print("GPU part, shrunken, on CPU (code-path check only; figures mean nothing)")
        gpu_part("cpu", small=True, only=set(args.models.split(",")) if args.models else None)
    else:
        print("GPU part skipped: no CUDA device")


if __name__ == "__main__":
    main()
