"""Peak memory of `radzoo import llava-rad` on a >= 1B-parameter replica, against the size of the weights.

The replica is written to disk as the release is laid out, streaming tensor by tensor so this script stays
small: a Vicuna-shaped base LLM (Llama, hidden 2048, 20 layers, 32000 tokens: 1.16B parameters, fp16) as pickled
``pytorch_model-0000N-of-0000M.bin`` shards of ~400 MB with an index, a PEFT LoRA (r 64, alpha 128, the 7 Llama
linears), the projector, and LLaVA-Rad's real-size tower (timm ``vit_base_patch14_dinov2`` @518, random, as an
open_clip training checkpoint). The import then runs in a fresh child process, whose resident set is sampled
(``radzoo.comparison.peak_memory``) and read from ``ru_maxrss``. Goal: peak RSS <= 1.3x the bytes of the
imported weights.

    python bench/import_bench.py          # writes bench/results/import_bench.json (needs ~6 GB of free disk)
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

import torch

RESULTS = Path(__file__).parent / "results"
HIDDEN, INTERMEDIATE, LAYERS, VOCAB, RANK = 2048, 5632, 20, 32000, 64
SHARD_BYTES = 400 * 2**20
TARGETS = {"self_attn.q_proj": (HIDDEN, HIDDEN), "self_attn.k_proj": (HIDDEN, HIDDEN),
           "self_attn.v_proj": (HIDDEN, HIDDEN), "self_attn.o_proj": (HIDDEN, HIDDEN),
           "mlp.gate_proj": (INTERMEDIATE, HIDDEN), "mlp.up_proj": (INTERMEDIATE, HIDDEN),
           "mlp.down_proj": (HIDDEN, INTERMEDIATE)}


def llama_tensors():
    """(name, shape) of the base LLM, in checkpoint order."""
    yield "model.embed_tokens.weight", (VOCAB, HIDDEN)
    for i in range(LAYERS):
        for name, shape in TARGETS.items():
            yield f"model.layers.{i}.{name}.weight", shape
        yield f"model.layers.{i}.input_layernorm.weight", (HIDDEN,)
        yield f"model.layers.{i}.post_attention_layernorm.weight", (HIDDEN,)
    yield "model.norm.weight", (HIDDEN,)
    yield "lm_head.weight", (VOCAB, HIDDEN)


def write_base(base: Path) -> int:
    """Pickled fp16 shards of ~SHARD_BYTES, each built and saved before the next; returns the parameter count."""
    from transformers import LlamaConfig

    base.mkdir(parents=True)
    shards: list[dict[str, torch.Tensor]] = [{}]
    names: list[list[str]] = [[]]
    count, size = 0, 0
    generator = torch.Generator().manual_seed(0)

    def flush(last: bool = False) -> None:
        torch.save(shards[-1], base / f"part-{len(names)}.bin")
        shards[-1] = {}
        if not last:
            names.append([])

    for name, shape in llama_tensors():
        tensor = torch.randn(shape, generator=generator, dtype=torch.float32).mul_(0.02).to(torch.float16)
        shards[-1][name] = tensor
        names[-1].append(name)
        count += tensor.numel()
        size += tensor.numel() * 2
        if size >= SHARD_BYTES:
            flush()
            size = 0
    flush(last=True)
    total = len(names)
    weight_map = {}
    for i, keys in enumerate(names, 1):
        final = f"pytorch_model-{i:05d}-of-{total:05d}.bin"
        (base / f"part-{i}.bin").rename(base / final)
        weight_map.update({k: final for k in keys})
    (base / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {"total_size": count * 2},
                                                                   "weight_map": weight_map}))
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=LAYERS,
                         num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=4096,
                         tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    config.architectures = ["LlamaForCausalLM"]
    config.dtype = torch.float16
    config.save_pretrained(base)
    return count


def write_tokenizer(base: Path) -> None:
    """A sentencepiece tokenizer.model (as Vicuna ships it), trained on a few sentences: ids are not checked here."""
    import io

    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["no pleural effusion", "the heart is normal"] * 50),
                                   model_writer=buffer, vocab_size=300, model_type="bpe", bos_id=1, eos_id=2,
                                   unk_id=0, pad_id=-1, byte_fallback=True, minloglevel=2)
    (base / "tokenizer.model").write_bytes(buffer.getvalue())
    (base / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer", "legacy": False,
                                                            "bos_token": "<s>", "eos_token": "</s>",
                                                            "unk_token": "<unk>"}))


def write_release(src: Path) -> int:
    """LLaVA-Rad's release files at real tower size and r 64; returns the parameter count of tower + projector."""
    import timm

    src.mkdir(parents=True)
    generator = torch.Generator().manual_seed(1)
    lora = {}
    for i in range(LAYERS):
        for name, (out_f, in_f) in TARGETS.items():
            key = f"base_model.model.model.layers.{i}.{name}"
            lora[f"{key}.lora_A.weight"] = torch.randn(RANK, in_f, generator=generator).mul_(0.01).half()
            lora[f"{key}.lora_B.weight"] = torch.randn(out_f, RANK, generator=generator).mul_(0.01).half()
    torch.save(lora, src / "adapter_model.bin")
    (src / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": RANK, "lora_alpha": 128,
                                                         "bias": "none", "target_modules": [t.split(".")[1] for t in
                                                                                            TARGETS]}))
    projector = {"base_model.model.model.mm_projector.0.weight": torch.zeros(HIDDEN, 768, dtype=torch.float16),
                 "base_model.model.model.mm_projector.0.bias": torch.zeros(HIDDEN, dtype=torch.float16),
                 "base_model.model.model.mm_projector.2.weight": torch.zeros(HIDDEN, HIDDEN, dtype=torch.float16),
                 "base_model.model.model.mm_projector.2.bias": torch.zeros(HIDDEN, dtype=torch.float16)}
    torch.save(projector, src / "non_lora_trainables.bin")
    trunk = timm.create_model("vit_base_patch14_dinov2", pretrained=False)
    trunk.reset_classifier(0)
    state = {f"module.visual.trunk.{k}": v for k, v in trunk.state_dict().items()}
    state["module.visual.head.proj.weight"] = torch.zeros(512, 768)
    torch.save({"epoch": 1, "name": "bench", "state_dict": state}, src / "biomedclipcxr_518_checkpoint.pt")
    (src / "biomedclipcxr_518.json").write_text(json.dumps(
        {"embed_dim": 512, "vision_cfg": {"timm_model_name": "vit_base_patch14_dinov2.lvd142m",
                                          "timm_model_pretrained": False, "timm_pool": "", "timm_proj": "linear",
                                          "image_size": 518}}))
    (src / "config.json").write_text(json.dumps(
        {"model_type": "llava", "architectures": ["LlavaLlamaForCausalLM"], "hidden_size": HIDDEN,
         "num_hidden_layers": LAYERS, "vocab_size": VOCAB, "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": 768,
         "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch", "mm_use_im_start_end": False,
         "mm_use_im_patch_token": False}))
    return sum(v.numel() for v in state.values()) + sum(v.numel() for v in projector.values())


def child(src: str, base: str, out: str) -> None:
    """Run the import alone in this process and print its memory figures as JSON."""
    from radzoo.comparison.peak_memory import PeakMemory, current_rss_bytes
    from radzoo.interop.releases import import_release

    baseline = current_rss_bytes()
    start = time.perf_counter()
    with PeakMemory(interval_s=0.01) as peak:
        import_release("llava-rad", src, out, base_llm=base)
    seconds = time.perf_counter() - start
    print(json.dumps({"baseline_rss_bytes": baseline, "peak_rss_sampled_bytes": peak.peak_bytes,
                      "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "seconds": round(seconds, 1)}))


def imported_weight_bytes(run: Path) -> int:
    from safetensors import safe_open

    total = 0
    for file in run.rglob("*.safetensors"):
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118
                total += _nbytes(handle, name)
    return total


def _nbytes(handle, name: str) -> int:
    sliced = handle.get_slice(name)
    numel = 1
    for dim in sliced.get_shape():
        numel *= dim
    return numel * {"F16": 2, "BF16": 2, "F32": 4, "I64": 8}[sliced.get_dtype()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("SRC", "BASE", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help="where to write the replica (default: a temporary directory)")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        llm_params = write_base(root / "vicuna")
        write_tokenizer(root / "vicuna")
        other_params = write_release(root / "llava-rad")
        written = time.perf_counter() - start
        result = subprocess.run([sys.executable, __file__, "--child", str(root / "llava-rad"), str(root / "vicuna"),
                                 str(root / "run")], capture_output=True, text=True, check=False)
        if result.returncode:
            sys.exit(f"the import failed:\n{result.stderr[-3000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        weights = imported_weight_bytes(root / "run")
        source = sum(p.stat().st_size for p in (root / "vicuna").glob("*.bin"))
    peak = max(figures["peak_rss_sampled_bytes"], figures["ru_maxrss_bytes"])
    report = {
        "what": "radzoo import llava-rad: peak resident memory of the import process vs the imported weights",
        "replica": {"llm_parameters": llm_params, "tower_and_projector_parameters": other_params,
                    "llm_dtype": "float16", "base_shards_bytes": source, "base_shard_size_bytes": SHARD_BYTES,
                    "lora": {"r": RANK, "alpha": 128, "targets": len(TARGETS), "layers": LAYERS},
                    "seconds_to_write": round(written, 1)},
        "imported_weight_bytes": weights,
        **figures,
        "peak_rss_bytes": peak,
        "peak_over_weights": round(peak / weights, 3),
        "peak_minus_baseline_over_weights": round((peak - figures["baseline_rss_bytes"]) / weights, 3),
        "goal": "peak_over_weights <= 1.3",
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor()
                    or platform.machine()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import_bench.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
