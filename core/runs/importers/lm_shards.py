"""Streaming a released language model into ``llm/`` one source shard at a time.

A 7B release is 13-28 GB; holding it whole (or twice, as load-then-save does) does not fit the machines
people run imports on. Source shards are read one after another (safetensors through ``safe_open``, pickles
memory-mapped with ``weights_only=True``), each tensor is renamed, transformed (e.g. its LoRA delta merged)
and checked against the shape the LLM config implies, and output shards are flushed at ``max_shard_bytes``.
Peak memory is about one source shard plus one output shard, not the model.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from radzoo.errors import MissingFileError
from radzoo.files.torch_files import load_weights_only
from radzoo.runs.importers.run_writer import ReleaseError, cast, read_json

INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json", "vocab.json", "merges.txt", "generation_config.json", "chat_template.json",
                   "chat_template.jinja")
# decoding flags a release's generation_config.json may carry (Vicuna's temperature 0.9, top_p 0.6): radzoo decodes
# as the run's recipe says and passes every setting itself, so the copy keeps none for transformers to warn about
SAMPLING_FLAGS = ("do_sample", "temperature", "top_p", "top_k", "typical_p", "min_p", "epsilon_cutoff", "eta_cutoff")
# buffers some releases pickled with the weights (LLaMA's rotary inverse frequencies); recomputed on load
DROPPED_BUFFERS = ("rotary_emb.inv_freq",)


def weight_files(directory: Path) -> list[Path]:
    """The checkpoint files of a transformers-style directory: the index's shards, else the single file."""
    for index_name in INDEX_FILES:
        index = directory / index_name
        if index.is_file():
            weight_map = read_json(index).get("weight_map")
            if not isinstance(weight_map, dict):
                raise ReleaseError(f"{index} has no 'weight_map'")
            files = [directory / name for name in dict.fromkeys(weight_map.values())]
            for file in files:
                if not file.is_file():
                    raise MissingFileError(f"{file} not found: {index_name} lists it")
            return files
    for name in SINGLE_FILES:
        if (directory / name).is_file():
            return [directory / name]
    raise MissingFileError(f"{directory}: no weights ({' / '.join(INDEX_FILES + SINGLE_FILES)})")


def iter_tensors(file: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) pairs of one checkpoint file, read lazily where the container allows it."""
    if file.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(file), framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 (safe_open handles are not mappings)
                    yield name, handle.get_tensor(name)
        except SafetensorError as exc:
            raise ReleaseError(f"{file} is not a valid safetensors file ({exc})") from None
        return
    state = load_weights_only(file, mmap=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ReleaseError(f"{file} does not hold a plain state dict (name -> tensor)")
    yield from state.items()


def expected_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the causal LM ``config`` describes, computed on the meta device (no memory)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


class LMShardWriter:
    """Writes renamed, checked tensors into ``model-NNNNN.safetensors`` shards plus the index."""

    def __init__(self, out_dir: Path, config: Any, dtype: torch.dtype | None,
                 max_shard_bytes: int = 1024**3) -> None:
        self.out_dir = out_dir
        self.shapes = expected_shapes(config)
        self.tied = bool(getattr(config, "tie_word_embeddings", False))
        self.dtype = dtype
        self.max_shard_bytes = max_shard_bytes
        self.buffer: dict[str, torch.Tensor] = {}
        self.weight_map: dict[str, str] = {}
        self.total_bytes = 0
        self.stored_dtype: torch.dtype | None = None
        out_dir.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, tensor: torch.Tensor, source: Path) -> None:
        if name.endswith(DROPPED_BUFFERS):
            return
        if name not in self.shapes:
            raise ReleaseError(f"{source}: tensor {name!r} has no place in the LLM its config describes")
        if tuple(tensor.shape) != self.shapes[name]:
            raise ReleaseError(f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, the LLM config "
                               f"implies {self.shapes[name]} (shape mismatch)")
        if name in self.weight_map or name in self.buffer:
            raise ReleaseError(f"{source}: tensor {name!r} appears twice")
        tensor = cast(tensor, self.dtype)
        if tensor.is_floating_point():
            self.stored_dtype = tensor.dtype
        self.buffer[name] = tensor
        if sum(t.numel() * t.element_size() for t in self.buffer.values()) >= self.max_shard_bytes:
            self._flush()

    def _flush(self) -> None:
        from safetensors.torch import save_file

        if not self.buffer:
            return
        shard = f"model-{len(set(self.weight_map.values())) + 1:05d}.safetensors"
        save_file(self.buffer, str(self.out_dir / shard), metadata={"format": "pt"})
        for name, tensor in self.buffer.items():
            self.weight_map[name] = shard
            self.total_bytes += tensor.numel() * tensor.element_size()
        self.buffer = {}

    def finish(self) -> None:
        """Flush, refuse a model with tensors missing, and write the index (or a single model.safetensors)."""
        self._flush()
        missing = [n for n in self.shapes if n not in self.weight_map and not n.endswith(DROPPED_BUFFERS)
                   and not (self.tied and n == "lm_head.weight")]
        if missing:
            raise ReleaseError(f"the release has no tensor {missing[0]!r} ({len(missing)} LLM tensors missing)")
        shards = sorted(set(self.weight_map.values()))
        if len(shards) == 1:
            (self.out_dir / shards[0]).rename(self.out_dir / "model.safetensors")
            return
        index = {"metadata": {"total_size": self.total_bytes}, "weight_map": dict(sorted(self.weight_map.items()))}
        (self.out_dir / INDEX_FILES[0]).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


def stream_lm(files: list[Path], out_dir: Path, config: Any, dtype: torch.dtype | None,
              rename: Callable[[str], str | None],
              transform: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
              keep: dict[str, torch.Tensor] | None = None,
              max_shard_bytes: int = 1024**3,
              split: Callable[[str, torch.Tensor], dict[str, torch.Tensor]] | None = None) -> LMShardWriter:
    """Copy the LLM tensors of ``files`` into ``out_dir``; ``rename`` maps a source name to an LLM name or None.

    Tensors ``rename`` rejects go to ``keep`` (the tower and projector of full releases), if given. ``split``
    turns one renamed tensor into several (a fused projection an older transformers saved), or returns it alone.
    """
    writer = LMShardWriter(out_dir, config, dtype, max_shard_bytes)
    for file in files:
        for name, tensor in iter_tensors(file):
            target = rename(name)
            if target is None:
                if keep is not None:
                    keep[name] = tensor.clone()  # detached from the mapped file, which is closed next
                continue
            for part, value in (split(target, tensor) if split else {target: tensor}).items():
                writer.add(part, transform(part, value) if transform else value, file)
    writer.finish()
    if writer.stored_dtype is not None:
        config.dtype = writer.stored_dtype  # "auto" loading then keeps the stored (released) dtype
    config.architectures = [type_name_for(config)]
    config.save_pretrained(out_dir)
    return writer


def type_name_for(config: Any) -> str:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    name = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(config.model_type)
    if name is None:
        raise ReleaseError(f"model_type {config.model_type!r} is not a transformers causal LM")
    return name


def copy_tokenizer(src: Path, out_dir: Path, what: str, skip: tuple[str, ...] = ()) -> list[Path]:
    """Copy the tokenizer (and generation config) files of ``src`` but ``skip``; check transformers loads them."""
    from transformers import AutoTokenizer

    copied = []
    for name in TOKENIZER_FILES:
        if name not in skip and (src / name).is_file():
            shutil.copyfile(src / name, out_dir / name)
            copied.append(src / name)
    if (out_dir / "generation_config.json").is_file():
        settings = read_json(out_dir / "generation_config.json")
        kept = {key: value for key, value in settings.items() if key not in SAMPLING_FLAGS}
        (out_dir / "generation_config.json").write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    if not any(p.name in ("tokenizer.model", "tokenizer.json", "vocab.json") for p in copied):
        raise MissingFileError(f"{src}: no tokenizer (tokenizer.model, tokenizer.json or vocab.json) in the {what}")
    try:
        AutoTokenizer.from_pretrained(out_dir)
    except (OSError, ValueError, ImportError) as exc:
        hint = " (a sentencepiece tokenizer.model needs `pip install sentencepiece protobuf`)" \
            if (src / "tokenizer.model").is_file() else ""
        raise ReleaseError(f"the tokenizer of {src} does not load: {' '.join(str(exc).split())[:200]}{hint}") \
            from None
    return copied
