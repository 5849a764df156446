"""Weight files: radzoo's own as safetensors only (``save_weights``/``load_weights``), third-party ones from
safetensors or weights-only torch files (``read_weights``), never by unpickling arbitrary objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from radzoo.errors import InputError, MissingFileError
from radzoo.files.atomic import atomic_target
from radzoo.files.torch_files import UnsafeTorchFile, load_weights_only

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def save_weights(state: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write tensors to safetensors atomically (``atomic_target``), so a crash never leaves a torn file."""
    from safetensors.torch import save_file

    with atomic_target(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp), metadata=metadata)
    return Path(path)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file; anything else is refused (pickles can run code)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: checkpoint file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a valid safetensors file ({exc}); radzoo loads weights from "
                         "safetensors only, never from pickle files") from None


def require_path_if_path_like(ref: str, recipe_key: str) -> None:
    """A ``ref`` written as a path (``/``, ``.``, ``~``, a weights suffix) must exist: no hub lookup for typos."""
    looks_local = ref.startswith(("/", ".", "~")) or Path(ref).suffix in WEIGHT_SUFFIXES + (".json",)
    if looks_local and not Path(ref).expanduser().exists():
        raise MissingFileError(f"{recipe_key}: {ref!r} does not exist (a local directory or file was expected)")


def _numpy_scalar_globals() -> list:
    """numpy reconstructors that training checkpoints carry (e.g. a saved epoch/metric); data only, no code."""
    import numpy as np

    multiarray = getattr(np, "_core", np.core).multiarray
    return [multiarray.scalar, np.dtype, *{type(np.dtype(t)) for t in ("f4", "f8", "i4", "i8", "bool")}]


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file or a torch file loaded with ``weights_only=True``.

    Training checkpoints are unwrapped: a ``{"state_dict": ...}`` (or ``"model"``) wrapper and a DDP
    ``module.`` prefix are removed, as open_clip and LLaVA-Rad do.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        checkpoint = load_weights_only(path, _numpy_scalar_globals())
    except UnsafeTorchFile as exc:
        raise InputError(
            f"cannot read weights: {exc}; convert it once where you trust it, e.g. "
            "`torch.save(torch.load(P, weights_only=False)['state_dict'], OUT)`, and point the recipe at OUT"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise InputError(f"{path} does not hold a state dict (name -> tensor)")
    if all(k.startswith("module.") for k in checkpoint):
        checkpoint = {k[len("module."):]: v for k, v in checkpoint.items()}
    return {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}


def read_sharded_weights(directory: str | Path, wanted: Callable[[str], bool]) -> dict[str, torch.Tensor]:
    """Tensors whose names pass ``wanted`` from a Hugging Face checkpoint directory (sharded or single file).

    With a ``*.index.json`` only the shards that hold wanted tensors are read (a 7B LLM's shards are skipped).
    """
    directory = Path(directory)
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index_file = directory / index_name
        if index_file.is_file():
            weight_map = json.loads(index_file.read_text())["weight_map"]
            shards = sorted({shard for name, shard in weight_map.items() if wanted(name)})
            break
    else:
        shards = [name for name in ("model.safetensors", "pytorch_model.bin") if (directory / name).is_file()][:1]
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        state.update({k: v for k, v in read_weights(directory / shard).items() if wanted(k)})
    if not state:
        raise MissingFileError(f"no matching weights in {directory}: expected model.safetensors(.index.json) "
                                "or pytorch_model.bin(.index.json) holding the vision tower")
    return state
